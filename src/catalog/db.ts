// Opens the catalog: an SQLite file under the data folder by default. The Kysely instance is the
// interface; a PostgreSQL dialect (pg) can be plugged in here without touching callers.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, type MigrationProvider } from 'kysely';
import { CatalogSqliteDialect } from './sqlite-dialect.ts';
import { migrations } from './migrations/index.ts';
import type { CatalogSchema } from './schema.ts';

export type CatalogDb = Kysely<CatalogSchema>;

export async function openCatalog(dataDir: string): Promise<CatalogDb> {
  mkdirSync(dataDir, { recursive: true });
  const sqlite = new SQLite(join(dataDir, 'catalog.sqlite'));
  // WAL + synchronous=FULL: a committed row survives a crash of the process or the machine.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.defaultSafeIntegers(false);
  const db = new Kysely<CatalogSchema>({ dialect: new CatalogSqliteDialect(sqlite) });
  await migrate(db);
  return db;
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

async function migrate(db: CatalogDb): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`catalog migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}
