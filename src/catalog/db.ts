// Opens the catalog: an SQLite file under the data folder by default, or a PostgreSQL database
// (`--catalog-url postgres://…`, for several audex processes sharing one catalog). The Kysely
// instance is the interface; both engines run the same migrations and the same repositories.
//
// Types are the same on both: BIGINT columns (µs timestamps, counts) come back as JS numbers, as
// SQLite returns them (pg would return int8 as strings; every value the catalog stores fits in
// 2^53), booleans are 0/1 integers.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, type MigrationProvider } from 'kysely';
import { CatalogSqliteDialect } from './sqlite-dialect.ts';
import { migrations } from './migrations/index.ts';
import type { CatalogSchema } from './schema.ts';
import { CatalogOpenError } from './errors.ts';

export type CatalogDb = Kysely<CatalogSchema>;

export type CatalogKind = 'sqlite' | 'postgres';

/** Where the catalog lives: the data folder's SQLite file unless a PostgreSQL URL is given. */
export interface CatalogLocation {
  dataDir: string;
  /** `postgres://user[:password]@host:5432/database`; undefined = SQLite in dataDir. */
  url?: string;
}

export { CatalogOpenError };

export async function openCatalog(where: string | CatalogLocation): Promise<CatalogDb> {
  const loc = typeof where === 'string' ? { dataDir: where } : where;
  const db = loc.url ? await openPostgres(loc.url) : openSqlite(loc.dataDir);
  try {
    await migrate(db);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw err;
  }
  return db;
}

export function catalogKind(db: CatalogDb): CatalogKind {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

function openSqlite(dataDir: string): CatalogDb {
  mkdirSync(dataDir, { recursive: true });
  const sqlite = new SQLite(join(dataDir, 'catalog.sqlite'));
  // WAL + synchronous=FULL: a committed row survives a crash of the process or the machine.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.defaultSafeIntegers(false);
  return new Kysely<CatalogSchema>({ dialect: new CatalogSqliteDialect(sqlite) });
}

const INT8_OID = 20;

/** pg's type parsers, with int8 (BIGINT, count(*)) as a JS number like SQLite's. */
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Parses and checks a catalog URL; throws CatalogOpenError naming what is wrong (never the password). */
export function parseCatalogUrl(url: string): pg.PoolConfig & { display: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CatalogOpenError(
      '--catalog-url / AUDEX_CATALOG_URL: not a URL (expected postgres://user[:password]@host:5432/database)',
    );
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    throw new CatalogOpenError(
      `--catalog-url / AUDEX_CATALOG_URL: unsupported scheme "${u.protocol.replace(/:$/, '')}" (expected postgres://user[:password]@host:5432/database)`,
    );
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!u.hostname || !database || database.includes('/'))
    throw new CatalogOpenError(
      '--catalog-url / AUDEX_CATALOG_URL: needs a host and a database (postgres://user[:password]@host:5432/database)',
    );
  const port = u.port ? Number(u.port) : 5432;
  const user = decodeURIComponent(u.username) || undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return {
    host,
    port,
    user,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database,
    display: `postgres://${user ? `${user}@` : ''}${u.host}/${database}`,
  };
}

/** One line that says why PostgreSQL could not be reached or used. */
function describePgError(err: unknown, cfg: { display: string; user?: string; database?: string }): string {
  const e = err as { code?: string; message?: string };
  const where = `PostgreSQL catalog ${cfg.display}`;
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
      return `${where}: cannot reach the server (${e.code})`;
    case '28P01':
    case '28000':
      return `${where}: the server refused the credentials of user "${cfg.user ?? ''}" (${e.message ?? e.code})`;
    case '3D000':
      return `${where}: database "${cfg.database ?? ''}" does not exist and could not be created`;
    default:
      return `${where}: ${e.message ?? String(err)}`;
  }
}

async function openPostgres(url: string): Promise<CatalogDb> {
  const cfg = parseCatalogUrl(url);
  const { display: _display, ...poolConfig } = cfg;
  const connect = async (database: string) => {
    const client = new pg.Client({ ...poolConfig, database, connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  // Connect once now, so a bad URL, an unreachable server or refused credentials is one clear
  // error at start. A missing database is created (first start), like the tables.
  try {
    const c = await connect(cfg.database!);
    await c.end();
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw new CatalogOpenError(describePgError(err, cfg));
    try {
      const admin = await connect('postgres');
      try {
        await admin.query(`CREATE DATABASE ${pgIdent(cfg.database!)}`);
      } catch (createErr) {
        // Another process created it at the same time.
        if ((createErr as { code?: string }).code !== '42P04') throw createErr;
      } finally {
        await admin.end();
      }
    } catch (createErr) {
      throw new CatalogOpenError(
        `${describePgError(err, cfg)}: ${(createErr as Error).message ?? String(createErr)}`,
      );
    }
  }
  const pool = new pg.Pool({ ...poolConfig, max: 10, types: pgTypes, connectionTimeoutMillis: 10_000 });
  // An idle client's connection dropping (server restart) is reported on the pool; the next
  // query gets a fresh connection, so it must not crash the process.
  pool.on('error', () => undefined);
  return new Kysely<CatalogSchema>({ dialect: new PostgresDialect({ pool }) });
}

/** A PostgreSQL identifier, quoted (the only identifier built from input: the database name). */
function pgIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

async function migrate(db: CatalogDb): Promise<void> {
  // Kysely's migrator takes a lock (a PostgreSQL advisory lock), so processes starting together
  // against one catalog migrate it once.
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new CatalogOpenError(
      `catalog migration ${failed?.migrationName ?? ''} failed: ${String(error).replace(/\s*\n\s*/g, ' ')}`,
    );
  }
}
