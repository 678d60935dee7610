// `audex migrate --from-data ./audex-data --catalog-url postgres://…`: moves an embedded
// installation up to the shared stores. The move is a list of steps, each copying one store and
// reporting per-table counts of the source and the target; the command fails (exit 1) unless
// every count matches. Today's step copies the catalog (SQLite into PostgreSQL); the events and
// snapshots step (DuckDB into ClickHouse, --events-url) is one more entry in migrationSteps().

import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type { TableCount } from '../catalog/copy.ts';

export interface MigrationStep {
  /** What is copied, for the report ("catalog", "events"). */
  name: string;
  run(): Promise<TableCount[]>;
}

export interface MigrateOptions {
  fromData: string;
  catalogUrl?: string;
}

/** One line for an operator (thrown for bad input: exit 1 without a stack trace). */
export class MigrateError extends Error {}

export function migrationSteps(o: MigrateOptions): MigrationStep[] {
  if (!existsSync(join(o.fromData, 'catalog.sqlite')))
    throw new MigrateError(
      `--from-data ${o.fromData} is not an audex data folder (it has no catalog.sqlite)`,
    );
  if (!o.catalogUrl)
    throw new MigrateError('nothing to migrate to: give --catalog-url postgres://… (or AUDEX_CATALOG_URL)');
  const steps: MigrationStep[] = [];
  steps.push({
    name: 'catalog',
    async run() {
      const { openCatalog } = await import('../catalog/db.ts');
      const { copyCatalog, CatalogNotEmptyError } = await import('../catalog/copy.ts');
      const from = await openCatalog(o.fromData);
      try {
        const to = await openCatalog({ dataDir: o.fromData, url: o.catalogUrl });
        try {
          return await copyCatalog(from, to);
        } catch (err) {
          if (err instanceof CatalogNotEmptyError) throw new MigrateError(err.message);
          throw err;
        } finally {
          await to.destroy();
        }
      } finally {
        await from.destroy();
      }
    },
  });
  return steps;
}

/** Runs the steps, prints their counts; resolves to the exit code (0 when every count matches). */
export async function runMigration(steps: MigrationStep[], out: NodeJS.WritableStream): Promise<number> {
  let ok = true;
  for (const step of steps) {
    const counts = await step.run();
    out.write(`${step.name}:\n`);
    const width = Math.max(...counts.map((c) => c.table.length));
    for (const c of counts) {
      const same = c.source === c.target;
      ok &&= same;
      out.write(
        `  ${c.table.padEnd(width)}  ${String(c.source).padStart(9)} → ${String(c.target).padEnd(9)} ${same ? 'ok' : 'MISMATCH'}\n`,
      );
    }
  }
  out.write(ok ? 'migrated: every count matches\n' : 'migration FAILED: counts differ\n');
  return ok ? 0 : 1;
}
