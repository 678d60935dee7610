// The one list of catalog engines the tests run on, like backends() for the event engines: a test
// that touches the catalog opens it through here (forEachCatalog), so it runs on SQLite and on
// PostgreSQL alike. AUDEX_TEST_CATALOGS=sqlite,… narrows the list (default: every catalog).
// PostgreSQL is a private server started once per test file (test/helpers/postgres-server.ts); a
// missing PostgreSQL fails the suite.

import { after, before, describe } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCatalog, type CatalogDb, type CatalogKind } from '../../src/catalog/db.ts';
import { acquirePostgres, releasePostgres, type PostgresServer } from './postgres-server.ts';

export const CATALOG_KINDS: readonly CatalogKind[] = ['sqlite', 'postgres'];

/** A place for one catalog: open() it as often as needed (a reopen sees the same rows). */
export interface CatalogSlot {
  readonly dataDir: string;
  /** The PostgreSQL URL, or undefined for SQLite. */
  readonly url: string | undefined;
  open(): Promise<CatalogDb>;
  /** Removes the data folder (the PostgreSQL database goes with its server). */
  dispose(): void;
}

export interface TestCatalog {
  readonly name: CatalogKind;
  /** A fresh, empty catalog location (a temp data folder, and a new database on PostgreSQL). */
  create(): Promise<CatalogSlot>;
  /** The PostgreSQL server of this file (postgres only, inside tests). */
  readonly server: PostgresServer | null;
}

function testCatalog(name: CatalogKind): TestCatalog & { start(): Promise<void>; stop(): Promise<void> } {
  let server: PostgresServer | null = null;
  return {
    name,
    get server() {
      return server;
    },
    async start() {
      if (name === 'postgres') server = await acquirePostgres();
    },
    async stop() {
      if (server) {
        server = null;
        await releasePostgres();
      }
    },
    async create() {
      const dataDir = mkdtempSync(join(tmpdir(), `audex-catalog-${name}-`));
      let url: string | undefined;
      if (name === 'postgres') {
        if (!server) throw new Error('catalogs(): the PostgreSQL server starts in the suite before()');
        url = await server.createDatabase();
      }
      return {
        dataDir,
        url,
        open: () => openCatalog({ dataDir, url }),
        dispose: () => rmSync(dataDir, { recursive: true, force: true }),
      };
    },
  };
}

/** The catalogs the tests run on: every kind, or AUDEX_TEST_CATALOGS. */
export function catalogs(): CatalogKind[] {
  const wanted = process.env.AUDEX_TEST_CATALOGS?.split(',').map((s) => s.trim());
  const names = wanted ? CATALOG_KINDS.filter((n) => wanted.includes(n)) : [...CATALOG_KINDS];
  if (wanted && names.length !== wanted.length)
    throw new Error(
      `AUDEX_TEST_CATALOGS: unknown catalog in ${wanted.join(',')} (known: ${CATALOG_KINDS.join(',')})`,
    );
  return names;
}

/**
 * Declares the tests that `declare` declares once per catalog, each set in a suite named after it;
 * the PostgreSQL server is started before that suite and stopped after it.
 */
export function forEachCatalog(declare: (catalog: TestCatalog) => void): void {
  for (const name of catalogs()) {
    describe(`catalog ${name}`, () => {
      const c = testCatalog(name);
      before(() => c.start());
      after(() => c.stop());
      declare(c);
    });
  }
}
