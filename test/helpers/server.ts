// Starts audex the way a user does (`audex serve`), in a child process, on free ports and a fresh
// data folder, and stops it with SIGTERM (or SIGKILL for crash tests).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquirePostgres } from './postgres-server.ts';
import { freshDatabaseName, sharedClickHouse } from './clickhouse-server.ts';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'audex.js');

export interface RunningServer {
  url: string;
  port: number;
  grpcPort: number;
  dataDir: string;
  proc: ChildProcess;
  output(): string;
  /** SIGTERM and wait; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

export function tempDataDir(prefix = 'audex-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** One PostgreSQL database per data folder, so a restart on the same folder finds its catalog. */
const pgCatalogs = new Map<string, string>();
async function postgresCatalogFor(dataDir: string): Promise<string> {
  let url = pgCatalogs.get(dataDir);
  if (!url) {
    // Held until the test process exits (the server helper stops it then).
    url = await (await acquirePostgres()).createDatabase('audex_e2e');
    pgCatalogs.set(dataDir, url);
  }
  return url;
}

/** The PostgreSQL catalog URL a server on this data folder runs on (AUDEX_TEST_CATALOG), if any. */
export function postgresCatalogOf(dataDir: string): string | undefined {
  return pgCatalogs.get(dataDir);
}

/** One ClickHouse database per data folder, for the same reason. */
const chDatabases = new Map<string, string>();

async function clickhouseEventsFor(dataDir: string): Promise<string> {
  let url = chDatabases.get(dataDir);
  if (!url) {
    // The file's shared server is stopped when the test process exits.
    url = (await sharedClickHouse()).eventsUrl(freshDatabaseName('audex_e2e'));
    chDatabases.set(dataDir, url);
  }
  return url;
}

export async function startServer(
  opts: {
    dataDir?: string;
    env?: Record<string, string>;
    args?: string[];
    /** `audex demo` seeds a demo property first (test/demo.e2e.test.ts). Default 'serve'. */
    command?: 'serve' | 'demo';
    /** How long to wait for the "serving REST on" line. Default 60 s. */
    startTimeoutMs?: number;
    /** A REST port known before the start line (free: see freePort). Default: one the OS picks. */
    port?: number;
  } = {},
): Promise<RunningServer> {
  const dataDir = opts.dataDir ?? tempDataDir();
  // AUDEX_TEST_CATALOG=postgres runs the server on a PostgreSQL catalog (a fresh database on the
  // file's private server) unless the test chose a catalog itself.
  const onPostgres =
    process.env.AUDEX_TEST_CATALOG === 'postgres' &&
    !opts.args?.includes('--catalog-url') &&
    opts.env?.AUDEX_CATALOG_URL === undefined;
  const catalogArgs = onPostgres ? ['--catalog-url', await postgresCatalogFor(dataDir)] : [];
  // AUDEX_TEST_EVENTS=clickhouse likewise puts the events and snapshots in ClickHouse (a fresh
  // database on the file's private server) unless the test chose an event engine itself.
  const onClickHouse =
    process.env.AUDEX_TEST_EVENTS === 'clickhouse' &&
    !opts.args?.includes('--events-url') &&
    opts.env?.AUDEX_EVENTS_URL === undefined;
  if (onClickHouse) catalogArgs.push('--events-url', await clickhouseEventsFor(dataDir));
  const proc = spawn(
    process.execPath,
    [
      BIN,
      opts.command ?? 'serve',
      '--port',
      String(opts.port ?? 0),
      '--grpc-port',
      '0',
      '--data',
      dataDir,
      ...catalogArgs,
      ...(opts.args ?? []),
    ],
    {
      env: { ...process.env, AUDEX_ADMIN_KEY: ADMIN_KEY, METADATA_SERVER_DETECTION: 'none', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const started = await new Promise<{ port: number; grpcPort: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start:\n${out}`)),
      opts.startTimeoutMs ?? 60_000,
    );
    const check = () => {
      const m = /serving REST on http:\/\/[^:]+:(\d+)/.exec(out);
      const g = /serving gRPC on [^:]+:(\d+)/.exec(out);
      if (m && g) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), grpcPort: Number(g[1]) });
      }
    };
    proc.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before starting:\n${out}`));
    });
  });
  return {
    url: `http://127.0.0.1:${started.port}`,
    port: started.port,
    grpcPort: started.grpcPort,
    dataDir,
    proc,
    output: () => out,
    stop: async () => {
      proc.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** A loopback port free right now (the OS picks it; closed again at once). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** fetch with the admin key (or another) as a bearer token. */
export async function api(
  server: { url: string },
  method: string,
  path: string,
  body?: unknown,
  key: string | null = ADMIN_KEY,
): Promise<{ status: number; json: any }> {
  const res = await fetch(server.url + path, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json };
}
