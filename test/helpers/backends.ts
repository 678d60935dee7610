// The one list of event engines the tests run on. A test that touches the event engine takes its
// engine from here (forEachBackend), never from a backend folder, so adding a backend (a sibling
// of src/storage/duckdb/, see src/storage/index.ts) runs every such test on it: add one entry to
// ADAPTERS below. AUDEX_TEST_BACKENDS=duckdb,… narrows the list (default: every backend).
//
// Each backend gives two ways in:
// - open(): openStorage() on a fresh data folder, the objects the server uses;
// - scratch(): an audience engine over an event table holding exactly the StoredEvents a test
//   loads (every column kept, ingest_seq included), for the audience tests that pin every column.

import { after, before, describe } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredEvent } from '../../src/domain/event.ts';
import type { AudienceEngine, StorageOptions } from '../../src/storage/contract.ts';
import { BACKEND_NAMES, openStorage, type BackendName, type OpenedStorage } from '../../src/storage/index.ts';
import { DuckDbAudienceEngine } from '../../src/storage/duckdb/members.ts';
import { insertEvents, openTestDb } from '../audience-duckdb.helpers.ts';
import { freshDatabaseName, sharedClickHouse } from './clickhouse-server.ts';
import { openClickHouseScratch } from './clickhouse-scratch.ts';

/** An audience engine over a scratch event table. */
export interface ScratchEngine {
  readonly engine: AudienceEngine;
  /** Replaces the table's rows with exactly these events. */
  load(events: readonly StoredEvent[]): Promise<void>;
  close(): Promise<void>;
}

export interface TestBackend {
  readonly name: BackendName;
  /** openStorage on a fresh temporary data folder; close() also removes the folder. */
  open(options?: Omit<StorageOptions, 'dataDir'>): Promise<OpenedStorage & { dataDir: string }>;
  scratch(): Promise<ScratchEngine>;
}

/** How the tests reach each backend's scratch event table (the only backend-specific part). */
const ADAPTERS: Record<BackendName, () => Promise<ScratchEngine>> = {
  duckdb: async () => {
    const { instance, connection } = await openTestDb();
    return {
      engine: new DuckDbAudienceEngine(connection),
      async load(events) {
        await connection.run('DELETE FROM events');
        await insertEvents(connection, events);
      },
      async close() {
        connection.closeSync();
        instance.closeSync();
      },
    };
  },
  // A private server per test process (clickhouse-server.ts), a fresh database per scratch engine.
  clickhouse: async () => openClickHouseScratch((await sharedClickHouse()).eventsUrl(freshDatabaseName())),
};

/** Options a backend needs beyond the data folder (a server engine's URL), per opened storage. */
const OPEN_OPTIONS: Partial<Record<BackendName, () => Promise<Partial<StorageOptions>>>> = {
  clickhouse: async () => ({ eventsUrl: (await sharedClickHouse()).eventsUrl(freshDatabaseName()) }),
};

function testBackend(name: BackendName): TestBackend {
  return {
    name,
    async open(options = {}) {
      const dataDir = mkdtempSync(join(tmpdir(), `audex-${name}-`));
      try {
        const extra = (await OPEN_OPTIONS[name]?.()) ?? {};
        const storage = await openStorage(name, { ...options, ...extra, dataDir });
        return {
          ...storage,
          dataDir,
          close: async () => {
            try {
              await storage.close();
            } finally {
              rmSync(dataDir, { recursive: true, force: true });
            }
          },
        };
      } catch (err) {
        rmSync(dataDir, { recursive: true, force: true });
        throw err;
      }
    },
    scratch: ADAPTERS[name],
  };
}

/** The backends the tests run on: every one this build has, or AUDEX_TEST_BACKENDS. */
export function backends(): TestBackend[] {
  const wanted = process.env.AUDEX_TEST_BACKENDS?.split(',').map((s) => s.trim());
  const names = wanted ? BACKEND_NAMES.filter((n) => wanted.includes(n)) : BACKEND_NAMES;
  if (wanted && names.length !== wanted.length)
    throw new Error(
      `AUDEX_TEST_BACKENDS: unknown backend in ${wanted.join(',')} (known: ${BACKEND_NAMES.join(',')})`,
    );
  return names.map(testBackend);
}

/** Declares the tests that `declare` declares once per backend, each set in a suite named after it. */
export function forEachBackend(declare: (backend: TestBackend) => void): void {
  for (const backend of backends()) describe(`backend ${backend.name}`, () => declare(backend));
}

/**
 * A scratch engine of `backend` opened before the suite's tests (loaded with `seed`, if given) and
 * closed after them; use it inside tests.
 */
export function useScratchEngine(backend: TestBackend, seed?: readonly StoredEvent[]): ScratchEngine {
  let scratch: ScratchEngine | null = null;
  const current = (): ScratchEngine => {
    if (!scratch) throw new Error('useScratchEngine: the engine is opened in before()');
    return scratch;
  };
  before(async () => {
    scratch = await backend.scratch();
    if (seed) await scratch.load(seed);
  });
  after(() => scratch?.close());
  return {
    get engine() {
      return current().engine;
    },
    load: (events) => current().load(events),
    close: async () => {},
  };
}
