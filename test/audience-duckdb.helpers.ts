// Shared set-up for the audience engine tests: an in-memory DuckDB with an `events` table built
// from EVENT_COLUMNS (JSON columns as VARCHAR), filled with the Appender.

import { after, before } from 'node:test';
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import { EVENT_COLUMNS, encodeParams, encodeUserProperties, type StoredEvent } from '../src/domain/event.ts';

export async function openTestDb(): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  const cols = EVENT_COLUMNS.map(([name, type]) => `${name} ${type === 'JSON' ? 'VARCHAR' : type}`).join(
    ', ',
  );
  await connection.run(`CREATE TABLE IF NOT EXISTS events (${cols})`);
  return { instance, connection };
}

/**
 * openTestDb before the file's tests (then `seed`, if given), closed after them; `connection` is
 * valid inside tests.
 */
export function useTestDb(seed?: (connection: DuckDBConnection) => Promise<void>): {
  readonly connection: DuckDBConnection;
} {
  let db: Awaited<ReturnType<typeof openTestDb>> | null = null;
  before(async () => {
    db = await openTestDb();
    await seed?.(db.connection);
  });
  after(() => {
    db?.connection.closeSync();
    db?.instance.closeSync();
  });
  return {
    get connection(): DuckDBConnection {
      if (!db) throw new Error('useTestDb: the database is opened in before()');
      return db.connection;
    },
  };
}

export function encodeItems(items: Record<string, unknown>[]): string {
  return JSON.stringify(items, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
}

function appendValue(app: DuckDBAppender, type: string, v: unknown): void {
  if (v === null || v === undefined) return app.appendNull();
  switch (type) {
    case 'BIGINT':
      return app.appendBigInt(BigInt(v as bigint));
    case 'INTEGER':
      return app.appendInteger(Number(v));
    case 'DOUBLE':
      return app.appendDouble(Number(v));
    case 'BOOLEAN':
      return app.appendBoolean(Boolean(v));
    default:
      return app.appendVarchar(v as string);
  }
}

export async function insertEvents(
  connection: DuckDBConnection,
  events: readonly StoredEvent[],
): Promise<void> {
  const app = await connection.createAppender('events');
  for (const e of events) {
    for (const [name, type] of EVENT_COLUMNS) {
      let v: unknown = e[name];
      if (name === 'event_params') v = encodeParams(e.event_params);
      else if (name === 'user_properties') v = encodeUserProperties(e.user_properties);
      else if (name === 'items') v = encodeItems(e.items);
      appendValue(app, type, v);
    }
    app.endRow();
  }
  app.flushSync();
  app.closeSync();
}

/** Byte order of UTF-8 strings, as DuckDB sorts VARCHAR. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
