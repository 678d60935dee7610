// A private PostgreSQL server for the tests: Debian's PostgreSQL 15 binaries, a data folder under
// a temp dir, a free loopback port picked at run time (never 5432), the unix socket in the temp
// dir, and password authentication for TCP (so bad credentials can be tested). PostgreSQL refuses
// to run as root, so when the tests run as root initdb and postgres run as the `postgres` user
// through runuser. Start it once per test file (usePostgres), give each test its own database
// (createDatabase), and it is stopped at the end. A missing PostgreSQL is a failure, never a skip.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';

/** Where Debian puts the server binaries; AUDEX_TEST_PG_BIN overrides. */
const BIN = process.env.AUDEX_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
export const PG_USER = 'audex';
export const PG_PASSWORD = 'audex-test-password';

export interface PostgresServer {
  readonly port: number;
  /** postgres://audex:…@127.0.0.1:port/database */
  url(database?: string): string;
  /** Creates an empty database with a fresh name; returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  stop(): Promise<void>;
}

/** A free loopback TCP port (the OS picks it; closed again before PostgreSQL binds it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function asServerUser(cmd: string, args: string[]): [string, string[]] {
  const root = process.getuid?.() === 0;
  return root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

function serverUid(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0) throw new Error('PostgreSQL tests: no `postgres` user (apt-get install postgresql)');
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export async function startPostgres(): Promise<PostgresServer> {
  if (!existsSync(join(BIN, 'postgres')))
    throw new Error(
      `PostgreSQL tests need PostgreSQL 15's server binaries in ${BIN} (apt-get install postgresql)`,
    );
  const dir = mkdtempSync(join(tmpdir(), 'audex-pg-'));
  const data = join(dir, 'data');
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, PG_PASSWORD + '\n');
  const owner = serverUid();
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(pwfile, owner.uid, owner.gid);
  }
  const [initCmd, initArgs] = asServerUser(join(BIN, 'initdb'), [
    '-D',
    data,
    '-U',
    PG_USER,
    `--pwfile=${pwfile}`,
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '-E',
    'UTF8',
    '--no-locale',
  ]);
  const init = spawnSync(initCmd, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}):\n${init.stdout}\n${init.stderr}`);
  }
  const port = await freePort();
  const [cmd, args] = asServerUser(join(BIN, 'postgres'), [
    '-D',
    data,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${dir}`,
    // A throwaway server: durability is not under test here, speed is welcome.
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=200',
  ]);
  const proc: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  // Never what keeps a test process alive: its 'exit' handler (below) stops the server.
  proc.unref();
  (proc.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (proc.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => (dead = true));

  const url = (database = 'postgres') => `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/${database}`;
  const postmasterPid = (): number | null => {
    try {
      return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return null;
    }
  };
  // An abandoned test process must not leave a server behind.
  const onExit = () => {
    const pid = postmasterPid();
    if (pid) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        /* gone already */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const stop = async () => {
    process.off('exit', onExit);
    const pid = postmasterPid();
    if (pid && !dead) {
      try {
        process.kill(pid, 'SIGINT'); // fast shutdown
      } catch {
        /* gone already */
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (dead) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`postgres exited at start:\n${log}`);
    }
    const client = new pg.Client({ connectionString: url() });
    try {
      await client.connect();
      await client.end();
      break;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`postgres did not accept connections: ${String(err)}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  return {
    port,
    url,
    async createDatabase(prefix = 'audex') {
      const name = `${prefix}_${randomBytes(6).toString('hex')}`;
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`); // name is ours: [a-z_0-9] only
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop,
  };
}

let shared: { server: Promise<PostgresServer>; users: number } | null = null;

/** The file's PostgreSQL server, started on first use; stopped when its last user releases it. */
export async function acquirePostgres(): Promise<PostgresServer> {
  if (!shared) shared = { server: startPostgres(), users: 0 };
  shared.users++;
  return shared.server;
}

export async function releasePostgres(): Promise<void> {
  if (!shared) return;
  if (--shared.users > 0) return;
  const s = shared.server;
  shared = null;
  await (await s).stop();
}

/**
 * Registers before/after hooks in the current suite (or file) that start and stop the shared
 * server; the getter is valid inside tests.
 */
export function usePostgres(): { readonly server: PostgresServer } {
  let server: PostgresServer | null = null;
  before(async () => {
    server = await acquirePostgres();
  });
  after(async () => {
    if (server) await releasePostgres();
  });
  return {
    get server() {
      if (!server) throw new Error('usePostgres: the server starts in before()');
      return server;
    },
  };
}
