// A private ClickHouse server (or two, as a two-shard cluster) for the tests and benches: Debian's
// clickhouse-server started as a plain background process from a copy of its config, with a data
// folder under a temp dir and free loopback ports picked at run time. Never the system service,
// never the default ports, so several test runs share the machine.
//
// A suite that needs ClickHouse fails when the binary is missing (it never skips): install it with
// `apt-get install -y --no-install-recommends clickhouse-server clickhouse-client` (.ci/run does).
//
// Starting takes a few seconds, so a test file starts one server (sharedClickHouse) and every
// test in it uses its own database on it.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SERVER_BINARY = process.env.AUDEX_CLICKHOUSE_SERVER ?? '/usr/sbin/clickhouse-server';
const CONFIG_DIR = process.env.AUDEX_CLICKHOUSE_CONFIG_DIR ?? '/etc/clickhouse-server';
/** The cluster name the two-shard variant defines (the events URL's ?cluster=). */
export const TEST_CLUSTER = 'audex_test_shards';

interface Ports {
  http: number;
  tcp: number;
  interserver: number;
}

export interface ClickHouseNode {
  readonly httpPort: number;
  readonly tcpPort: number;
  /** http://127.0.0.1:<port> */
  readonly httpUrl: string;
  /** The clickhouse-server process (benches read its peak memory in /proc). */
  readonly pid: number;
}

export interface ClickHouseServer {
  readonly nodes: readonly ClickHouseNode[];
  /** The cluster name when there are several nodes (a remote_servers entry in every node's config). */
  readonly cluster: string | null;
  /** An events URL for `database`: clickhouse://127.0.0.1:<http>[,…]/<database>[?cluster=…] */
  eventsUrl(database: string): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function clusterXml(name: string, tcpPorts: readonly number[]): string {
  const shards = tcpPorts
    .map((p) => `<shard><replica><host>127.0.0.1</host><port>${p}</port></replica></shard>`)
    .join('');
  return `<remote_servers><${name}>${shards}</${name}></remote_servers>`;
}

/** The server's stock config with private paths, our ports, loopback only and our cluster. */
function privateConfig(dir: string, ports: Ports, remoteServers: string): string {
  const stock = readFileSync(join(CONFIG_DIR, 'config.xml'), 'utf8');
  const text = stock
    .replaceAll('/var/lib/clickhouse/', `${dir}/data/`)
    .replaceAll('/var/log/clickhouse-server/', `${dir}/log/`)
    .replace(/<http_port>\d+<\/http_port>/, `<http_port>${ports.http}</http_port>`)
    .replace(/<tcp_port>\d+<\/tcp_port>/, `<tcp_port>${ports.tcp}</tcp_port>`)
    .replace(
      /<interserver_http_port>\d+<\/interserver_http_port>/,
      `<interserver_http_port>${ports.interserver}</interserver_http_port>`,
    )
    .replace(/\s*<listen_host>::1<\/listen_host>/, '')
    .replace(/<remote_servers[\s\S]*?<\/remote_servers>/, remoteServers);
  if (!text.includes(`<http_port>${ports.http}<`) || !text.includes(`${dir}/data/`))
    throw new Error(`${CONFIG_DIR}/config.xml: not the expected layout (ports or paths not found)`);
  return text;
}

async function waitForPing(url: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`clickhouse-server exited with ${child.exitCode}: ${safeRead(logFile).slice(-2000)}`);
    try {
      const res = await fetch(`${url}/ping`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(
        `clickhouse-server did not answer ${url}/ping within 60 s: ${safeRead(logFile).slice(-2000)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The stock users.xml with every query of the default profile logged to system.query_log. */
function usersConfig(logQueries: boolean): string {
  const stock = readFileSync(join(CONFIG_DIR, 'users.xml'), 'utf8');
  if (!logQueries) return stock;
  const text = stock.replace(
    /<profiles>(\s*(?:<!--[\s\S]*?-->\s*)*)<default>/,
    '<profiles>$1<default><log_queries>1</log_queries>',
  );
  if (text === stock) throw new Error(`${CONFIG_DIR}/users.xml: no default profile found`);
  return text;
}

/**
 * Starts `shards` private servers (1: a single node; 2: two nodes, each with a remote_servers
 * cluster TEST_CLUSTER listing both). Fails (never skips) when clickhouse-server is missing.
 * `logQueries`: every query is logged in each node's system.query_log (tests that check where a
 * statement ran).
 */
export async function startClickHouse(
  opts: { shards?: number; logQueries?: boolean } = {},
): Promise<ClickHouseServer> {
  const shards = opts.shards ?? 1;
  if (!existsSync(SERVER_BINARY) || !existsSync(join(CONFIG_DIR, 'config.xml')))
    throw new Error(
      `ClickHouse is required for this suite: ${SERVER_BINARY} or ${CONFIG_DIR}/config.xml is missing ` +
        '(apt-get install -y --no-install-recommends clickhouse-server clickhouse-client)',
    );
  const root = mkdtempSync(join(tmpdir(), 'audex-clickhouse-'));
  leftoverRoots.add(root);
  const ports: Ports[] = [];
  for (let i = 0; i < shards; i++)
    ports.push({ http: await freePort(), tcp: await freePort(), interserver: await freePort() });
  const remote = clusterXml(
    TEST_CLUSTER,
    ports.map((p) => p.tcp),
  );
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(stopChild));
    rmSync(root, { recursive: true, force: true });
    leftoverRoots.delete(root);
  };
  try {
    for (let i = 0; i < shards; i++) {
      const dir = join(root, `node${i}`);
      mkdirSync(join(dir, 'log'), { recursive: true });
      mkdirSync(join(dir, 'data'), { recursive: true });
      writeFileSync(join(dir, 'config.xml'), privateConfig(dir, ports[i]!, remote));
      writeFileSync(join(dir, 'users.xml'), usersConfig(opts.logQueries === true));
      const child = spawn(SERVER_BINARY, [`--config-file=${join(dir, 'config.xml')}`], {
        cwd: dir,
        stdio: 'ignore',
        detached: false,
      });
      child.unref();
      children.push(child);
      exitGuard.add(child);
    }
    await Promise.all(
      ports.map((p, i) =>
        waitForPing(
          `http://127.0.0.1:${p.http}`,
          children[i]!,
          join(root, `node${i}`, 'log', 'clickhouse-server.err.log'),
        ),
      ),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const nodes = ports.map((p, i) => ({
    httpPort: p.http,
    tcpPort: p.tcp,
    httpUrl: `http://127.0.0.1:${p.http}`,
    pid: children[i]!.pid!,
  }));
  const cluster = shards > 1 ? TEST_CLUSTER : null;
  return {
    nodes,
    cluster,
    eventsUrl: (database) =>
      `clickhouse://${nodes.map((n) => `127.0.0.1:${n.httpPort}`).join(',')}/${database}${cluster ? `?cluster=${cluster}` : ''}`,
    stop,
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  exitGuard.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

// Servers still running when the test process exits (a failed suite, a forgotten stop) are
// killed, so no test leaves a server behind.
const exitGuard = new Set<ChildProcess>();
const leftoverRoots = new Set<string>();
process.once('exit', () => {
  for (const child of exitGuard) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const root of leftoverRoots) rmSync(root, { recursive: true, force: true, maxRetries: 3 });
});

const shared = new Map<number, Promise<ClickHouseServer>>();

/**
 * One server (or two-shard cluster) per test process, started at first use and stopped when the
 * process exits; each caller uses its own database on it.
 */
export function sharedClickHouse(shards = 1): Promise<ClickHouseServer> {
  let server = shared.get(shards);
  if (!server) {
    server = startClickHouse({ shards });
    shared.set(shards, server);
  }
  return server;
}

let databaseCounter = 0;

/** A database name no other test in this process uses. */
export function freshDatabaseName(prefix = 'audex_test'): string {
  databaseCounter++;
  return `${prefix}_${process.pid}_${databaseCounter}_${Math.floor(Math.random() * 1e6)}`;
}
