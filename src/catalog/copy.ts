// Copies a whole catalog into another (`audex migrate`: an embedded SQLite catalog into
// PostgreSQL). Every row keeps its id, so resource names (properties/7, keys/3, …) stay the same;
// the target's id sequences then continue after the copied ids. The target must be empty. The
// copy is one transaction on the target: it is there in full or not at all. Counts are checked
// table by table at the end.

import { sql } from 'kysely';
import { catalogKind, type CatalogDb } from './db.ts';
import type { CatalogSchema } from './schema.ts';

/** Every catalog table, parents before children (foreign keys), and whether it has an id column. */
export const CATALOG_TABLES: readonly { table: keyof CatalogSchema; id: boolean }[] = [
  { table: 'properties', id: true },
  { table: 'data_streams', id: true },
  { table: 'mp_secrets', id: true },
  { table: 'api_keys', id: true },
  { table: 'api_key_bindings', id: false },
  { table: 'audiences', id: true },
  { table: 'audience_exports', id: true },
  { table: 'export_token_usage', id: false },
  { table: 'webhook_deliveries', id: true },
  { table: 'recurring_audience_lists', id: true },
  { table: 'recurring_list_days', id: false },
  { table: 'data_retention_settings', id: false },
  { table: 'user_deletions', id: true },
];

/** Rows of one table in the source and, after the copy, in the target. */
export interface TableCount {
  table: string;
  source: number;
  target: number;
}

/** Thrown when the target already holds data: a copy never merges into a used catalog. */
export class CatalogNotEmptyError extends Error {}

const BATCH = 500;

async function count(db: CatalogDb, table: keyof CatalogSchema): Promise<number> {
  const r = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function copyCatalog(from: CatalogDb, to: CatalogDb): Promise<TableCount[]> {
  for (const { table } of CATALOG_TABLES) {
    if ((await count(to, table)) > 0)
      throw new CatalogNotEmptyError(
        `the target catalog is not empty (table ${table} has rows): migrate into a new database`,
      );
  }
  await to.transaction().execute(async (tx) => {
    for (const { table, id } of CATALOG_TABLES) {
      // Keyset pages in a stable order, so a large table never sits in memory at once.
      let last: number | null = null;
      let offset = 0;
      for (;;) {
        let q = from.selectFrom(table).selectAll();
        if (id) {
          if (last !== null) q = q.where('id' as never, '>', last as never);
          q = q.orderBy('id' as never);
        } else {
          q = q.offset(offset);
        }
        const rows = (await q.limit(BATCH).execute()) as Record<string, unknown>[];
        if (rows.length === 0) break;
        await tx.insertInto(table).values(rows).execute();
        last = id ? Number(rows[rows.length - 1]!.id) : null;
        offset += rows.length;
        if (rows.length < BATCH) break;
      }
      if (id && catalogKind(to) === 'postgres') {
        // Identity columns continue after the copied ids (never reuse one: resource names).
        await sql`SELECT setval(pg_get_serial_sequence(${table}, 'id'), coalesce((SELECT max(id) FROM ${sql.table(table)}), 0) + 1, false)`.execute(
          tx,
        );
      }
    }
  });
  const counts: TableCount[] = [];
  for (const { table } of CATALOG_TABLES)
    counts.push({ table, source: await count(from, table), target: await count(to, table) });
  return counts;
}
