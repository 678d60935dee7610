// A transaction that fills the catalog's disk must fail with SQLITE_FULL (UNAVAILABLE to clients),
// not with the "cannot rollback" error of Kysely's ROLLBACK after SQLite already rolled back. The
// full disk is simulated with max_page_count, which makes SQLite answer SQLITE_FULL just the same;
// test/full-disk.e2e.test.ts does it on a real full filesystem.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type Dialect } from 'kysely';
import { CatalogSqliteDialect } from './sqlite-dialect.ts';
import { toApiError } from '../domain/errors.ts';

async function fillInTransaction(dialect: (db: SQLite.Database) => Dialect) {
  const dir = mkdtempSync(join(tmpdir(), 'audex-catalog-full-'));
  const sqlite = new SQLite(join(dir, 'catalog.sqlite'));
  const db = new Kysely<Record<string, never>>({ dialect: dialect(sqlite) });
  try {
    sqlite.pragma('journal_mode = WAL');
    sqlite.exec('CREATE TABLE t (x BLOB)');
    sqlite.pragma(`max_page_count = ${Number(sqlite.pragma('page_count', { simple: true })) + 2}`);
    const error = await db
      .transaction()
      .execute(async (tx) => {
        for (let i = 0; i < 50; i++) await sql`INSERT INTO t VALUES (randomblob(100000))`.execute(tx);
      })
      .then(
        () => null,
        (err: unknown) => err as NodeJS.ErrnoException,
      );
    // The catalog goes on working once there is space again.
    sqlite.pragma('max_page_count = 1073741823');
    await db.transaction().execute((tx) => sql`INSERT INTO t VALUES (x'00')`.execute(tx));
    const rows = await sql<{ n: number }>`SELECT count(*) AS n FROM t`.execute(db);
    return { error, rows: rows.rows[0]!.n, inTransaction: sqlite.inTransaction };
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the catalog on a full disk (SQLite)', () => {
  test("Kysely's own dialect loses SQLITE_FULL behind a failed ROLLBACK (why CatalogSqliteDialect exists)", async () => {
    const r = await fillInTransaction((database) => new SqliteDialect({ database }));
    assert.match(r.error!.message, /cannot rollback - no transaction is active/);
    assert.equal(toApiError(r.error).status, 'INTERNAL');
  });

  test('CatalogSqliteDialect throws SQLITE_FULL, which clients see as UNAVAILABLE; nothing half-written', async () => {
    const r = await fillInTransaction((database) => new CatalogSqliteDialect(database));
    assert.equal(r.error?.code, 'SQLITE_FULL');
    const api = toApiError(r.error);
    assert.equal(api.status, 'UNAVAILABLE');
    assert.match(api.message, /out of disk space/);
    assert.equal(r.rows, 1, 'the failed transaction stored nothing; the next one committed');
    assert.equal(r.inTransaction, false);
  });
});
