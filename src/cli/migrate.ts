// `audex migrate --from-data ./audex-data --catalog-url postgres://…`: moves an embedded
// installation up to the shared stores. The move is a list of steps, each copying one store and
// reporting per-table counts of the source and the target; the command fails (exit 1) unless
// every count matches. The steps: the catalog (SQLite into PostgreSQL, --catalog-url) and the
// events (DuckDB into ClickHouse, --events-url: every event with its ingest_seq, in pages of
// EVENT_PAGE rows, each one bulk INSERT, then the import ledger, so a retried import stays a
// no-op; counts per property) and, with --events-url, the snapshots of ACTIVE exports and lists
// (pages of EVENT_PAGE rows in their row order; each compared with the catalog's row count), so
// their rows can still be queried and downloaded on the new stores.

import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type { TableCount } from '../catalog/copy.ts';
import type { StoredEvent } from '../domain/event.ts';
import type { OpenedStorage } from '../storage/index.ts';

/** Events per page of the events step: one DuckDB read and one ClickHouse INSERT each. */
const EVENT_PAGE = 50_000;

export interface MigrationStep {
  /** What is copied, for the report ("catalog", "events"). */
  name: string;
  run(): Promise<TableCount[]>;
}

export interface MigrateOptions {
  fromData: string;
  catalogUrl?: string;
  /** clickhouse://… : the events step. */
  eventsUrl?: string;
}

/** One line for an operator (thrown for bad input: exit 1 without a stack trace). */
export class MigrateError extends Error {}

export function migrationSteps(o: MigrateOptions): MigrationStep[] {
  if (!existsSync(join(o.fromData, 'catalog.sqlite')))
    throw new MigrateError(
      `--from-data ${o.fromData} is not an audex data folder (it has no catalog.sqlite)`,
    );
  if (!o.catalogUrl && !o.eventsUrl)
    throw new MigrateError(
      'nothing to migrate to: give --catalog-url postgres://… (or AUDEX_CATALOG_URL) and/or --events-url clickhouse://… (or AUDEX_EVENTS_URL)',
    );
  if (o.eventsUrl && !o.eventsUrl.startsWith('clickhouse://'))
    throw new MigrateError(`--events-url must be a clickhouse:// URL (got ${o.eventsUrl.split('@').pop()})`);
  const steps: MigrationStep[] = [];
  if (o.catalogUrl) steps.push(catalogStep(o.fromData, o.catalogUrl));
  if (o.eventsUrl) steps.push(eventsStep(o.fromData, o.eventsUrl), snapshotsStep(o.fromData, o.eventsUrl));
  return steps;
}

function catalogStep(fromData: string, catalogUrl: string): MigrationStep {
  const o = { fromData, catalogUrl };
  return {
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
  };
}

/** Events per property: `SELECT property_id, count(*)` on an engine. */
async function countByProperty(storage: OpenedStorage): Promise<Map<string, number>> {
  const { ident, sql } = await import('../audience/compile/sql.ts');
  const { QueryComposer } = await import('../audience/evaluate/compose.ts');
  const [schema, name] = storage.executor.qualifiedEventsTable;
  const rows = await storage.executor.rows(
    new QueryComposer(storage.executor.dialect)
      .add(sql`SELECT property_id, count(*) AS n FROM ${ident(schema)}.${ident(name)} GROUP BY property_id`)
      .build(),
  );
  return new Map(rows.map((r) => [String(r.property_id), Number(r.n)]));
}

function eventsStep(fromData: string, eventsUrl: string): MigrationStep {
  return {
    name: 'events',
    async run() {
      const { EVENT_COLUMNS } = await import('../domain/event.ts');
      const { ident, join: joinSql, param, sql } = await import('../audience/compile/sql.ts');
      const { QueryComposer } = await import('../audience/evaluate/compose.ts');
      return withEngines(fromData, eventsUrl, async (source, target) => {
        if (!target.events.copyIn) throw new MigrateError('the target event engine cannot take a copy');
        const already = [...(await countByProperty(target)).values()].reduce((a, b) => a + b, 0);
        if (already > 0)
          throw new MigrateError(
            `the ClickHouse database of --events-url already holds ${already} events; migrate into an empty database`,
          );
        const [schema, name] = source.executor.qualifiedEventsTable;
        const columns = joinSql(
          EVENT_COLUMNS.map(([c]) => ident(c)),
          ', ',
        );
        // Keyset pages in ingest_seq order (unique in the source): bounded memory whatever the size.
        let after = -1n;
        for (;;) {
          const page: StoredEvent[] = [];
          await source.executor.streamEvents(
            new QueryComposer(source.executor.dialect)
              .add(
                sql`SELECT ${columns} FROM ${ident(schema)}.${ident(name)} WHERE ingest_seq > ${param(after)} ORDER BY ingest_seq LIMIT ${param(EVENT_PAGE)}`,
              )
              .build(),
            (chunk) => page.push(...chunk),
          );
          if (page.length === 0) break;
          await target.events.copyIn(page);
          after = page[page.length - 1]!.ingest_seq;
        }
        const from = await countByProperty(source);
        const to = await countByProperty(target);
        const properties = [...new Set([...from.keys(), ...to.keys()])].sort((a, b) => Number(a) - Number(b));
        const counts = properties.map((p) => ({
          table: `events (properties/${p})`,
          source: from.get(p) ?? 0,
          target: to.get(p) ?? 0,
        }));
        const ledger = (await source.events.importLedger?.()) ?? [];
        if (ledger.length > 0) {
          if (!target.events.copyLedgerIn)
            throw new MigrateError('the target event engine cannot take the import ledger');
          await target.events.copyLedgerIn(ledger);
        }
        const copied = (await target.events.importLedger?.()) ?? [];
        return [...counts, { table: 'import ledger', source: ledger.length, target: copied.length }];
      });
    },
  };
}

/**
 * The snapshots of ACTIVE exports and lists (ids from the source catalog): read in pages from
 * DuckDB, written to ClickHouse; the target's rows are counted back against the catalog's count.
 */
function snapshotsStep(fromData: string, eventsUrl: string): MigrationStep {
  return {
    name: 'export snapshots',
    async run() {
      const { openCatalog } = await import('../catalog/db.ts');
      const { ExportRepo } = await import('../catalog/repos/exports.ts');
      const { snapshotIdOf } = await import('../exports/runner.ts');
      const catalog = await openCatalog(fromData);
      let active: { id: number; rows: number }[];
      try {
        active = await new ExportRepo(catalog).activeRowCounts();
      } finally {
        await catalog.destroy();
      }
      return withEngines(fromData, eventsUrl, async (source, target) => {
        if (!target.snapshots.copyIn) throw new MigrateError('the target event engine cannot take snapshots');
        const counts: TableCount[] = [];
        for (const { id, rows } of active) {
          const sid = snapshotIdOf(id);
          for (let offset = 0; ; offset += EVENT_PAGE) {
            const page = await source.snapshots.read(sid, offset, EVENT_PAGE).catch(() => []);
            if (page.length > 0 || offset === 0) await target.snapshots.copyIn(sid, page, offset);
            if (page.length < EVENT_PAGE) break;
          }
          let copied = 0;
          for (;;) {
            const n = (await target.snapshots.read(sid, copied, EVENT_PAGE)).length;
            copied += n;
            if (n < EVENT_PAGE) break;
          }
          counts.push({ table: `snapshot of audience export ${id}`, source: rows, target: copied });
        }
        return counts;
      });
    },
  };
}

/** Runs fn with the embedded DuckDB engine of fromData and the ClickHouse engine of eventsUrl. */
async function withEngines<T>(
  fromData: string,
  eventsUrl: string,
  fn: (source: OpenedStorage, target: OpenedStorage) => Promise<T>,
): Promise<T> {
  const { openStorage } = await import('../storage/index.ts');
  if (!existsSync(join(fromData, 'events.duckdb')))
    throw new MigrateError(`--from-data ${fromData} has no events.duckdb to copy`);
  const source = await openStorage('duckdb', { dataDir: fromData });
  try {
    const target = await openStorage('clickhouse', { dataDir: fromData, eventsUrl }).catch((err: unknown) => {
      throw new MigrateError(`--events-url: ${err instanceof Error ? err.message : String(err)}`);
    });
    try {
      return await fn(source, target);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
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
