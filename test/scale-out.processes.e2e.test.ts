// Scale-out with processes: one API process (--role api) and two workers (--role worker) sharing
// a PostgreSQL catalog and a ClickHouse event store. Ten exports created at once all become
// ACTIVE, each run by exactly one worker; a worker SIGKILLed in the middle of a job leaves an
// export that still becomes ACTIVE (the other worker takes it over when its lease lapses).
//
// A third case SIGKILLs one of two API processes under MP load (a load balancer sends to the
// other one meanwhile) and checks that every acknowledged event is stored.
//
// The suite starts its own ClickHouse (test/helpers/clickhouse-server.ts) and PostgreSQL
// (test/helpers/postgres-server.ts) on free loopback ports, and fails, never skips, when either
// is not installed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ADMIN_KEY, api, removeDir, startServer, tempDataDir, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';
import { usePostgres } from './helpers/postgres-server.ts';
import { freshDatabaseName, sharedClickHouse } from './helpers/clickhouse-server.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'audex.js');
const pg = usePostgres();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a query on the test's ClickHouse over HTTP; the rows as text. */
async function clickhouseQuery(query: string): Promise<string> {
  const server = await sharedClickHouse();
  const res = await fetch(`${server.nodes[0]!.httpUrl}/?query=${encodeURIComponent(query)}`);
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse: ${text}`);
  return text;
}

interface Worker {
  proc: ChildProcess;
  url: string;
  /** Export ids this worker started a job for (its `export job started` log lines). */
  started(): number[];
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** `audex serve --role worker`: waits for its health line; reads its JSON logs. */
async function startWorker(args: string[], env: Record<string, string>): Promise<Worker> {
  const dataDir = tempDataDir('audex-worker-');
  const proc = spawn(
    process.execPath,
    [BIN, 'serve', '--role', 'worker', '--port', '0', '--data', dataDir, ...args],
    {
      env: { ...process.env, AUDEX_ADMIN_KEY: ADMIN_KEY, METADATA_SERVER_DETECTION: 'none', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const deadline = Date.now() + 60_000;
  let m: RegExpExecArray | null = null;
  while (!(m = /worker serving \/healthz and \/metrics on (http:\/\/\S+)/.exec(out))) {
    if (proc.exitCode !== null || Date.now() > deadline)
      throw new Error(`worker did not start:\n${out}\n${err}`);
    await sleep(50);
  }
  const finish = async (signal: NodeJS.Signals) => {
    if (proc.exitCode === null) proc.kill(signal);
    await exited;
    removeDir(dataDir);
  };
  return {
    proc,
    url: m[1]!,
    started: () =>
      err.split('\n').flatMap((l) => {
        try {
          const j = JSON.parse(l) as { msg?: string; export?: number };
          return j.msg === 'export job started' && typeof j.export === 'number' ? [j.export] : [];
        } catch {
          return [];
        }
      }),
    kill: () => finish('SIGKILL'),
    stop: () => finish('SIGTERM'),
  };
}

async function purchasers(server: RunningServer, property: string): Promise<string> {
  const list = (await api(server, 'GET', `/v1alpha/${property}/audiences`)).json.audiences as any[];
  return list.find((a) => a.displayName === 'Purchasers').name as string;
}

async function waitActive(server: RunningServer, names: string[], timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(
      names.map(async (n) => (await api(server, 'GET', `/v1beta/${n}`)).json.state as string),
    );
    if (states.every((s) => s !== 'CREATING')) return states;
    if (Date.now() > deadline) throw new Error(`still CREATING: ${states.join(',')}`);
    await sleep(200);
  }
}

describe('one API process and two workers (PostgreSQL catalog, shared event store)', () => {
  let apiServer: RunningServer;
  let workers: Worker[] = [];
  let p: TestProperty;
  let audience: string;
  let shared: string[];
  let database: string;
  const env = { AUDEX_JOB_LEASE_SECONDS: '3', AUDEX_TEST_EXPORT_DELAY_MS: '1500' };

  before(async () => {
    const catalogUrl = await pg.server.createDatabase('audex_scale');
    database = freshDatabaseName('audex_scale');
    const ch = await sharedClickHouse();
    shared = ['--catalog-url', catalogUrl, '--events-url', ch.eventsUrl(database)];
    apiServer = await startServer({ args: ['--role', 'api', ...shared], env });
    workers = [await startWorker(shared, env), await startWorker(shared, env)];
    p = await createTestProperty(apiServer);
    const base = BigInt(Date.now() - 3_600_000) * 1000n;
    for (let i = 0; i < 20; i++) {
      const r = await sendMp(apiServer, p, {
        client_id: `${i}.1700000000`,
        timestamp_micros: (base + BigInt(i) * 1000n).toString(),
        events: [{ name: 'purchase', params: { value: 10 + i, currency: 'EUR', transaction_id: `T${i}` } }],
      });
      assert.equal(r.status, 204);
    }
    audience = await purchasers(apiServer, p.property);
  });
  after(async () => {
    for (const w of workers) await w.stop();
    await apiServer?.stop();
    if (apiServer) removeDir(apiServer.dataDir);
    await (await sharedClickHouse()).stop();
  });

  test('a worker serves only /healthz, /livez and /metrics', async () => {
    const w = workers[0]!;
    assert.equal((await fetch(`${w.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${w.url}/metrics`)).status, 200);
    const r = await fetch(`${w.url}/v1beta/properties`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    assert.equal(r.status, 404);
  });

  test('ten exports created at once all become ACTIVE, each run exactly once', async () => {
    const ops = await Promise.all(
      Array.from({ length: 10 }, () =>
        api(apiServer, 'POST', `/v1beta/${p.property}/audienceExports`, {
          audience,
          dimensions: [{ dimensionName: 'deviceId' }],
        }),
      ),
    );
    for (const op of ops) assert.equal(op.status, 200, JSON.stringify(op.json));
    const names = ops.map((op) => op.json.response.name as string);
    const states = await waitActive(apiServer, names);
    assert.deepEqual(
      states,
      names.map(() => 'ACTIVE'),
    );
    const ids = names.map((n) => Number(n.split('/').pop())).sort((a, b) => a - b);
    const started = workers.flatMap((w) => w.started()).sort((a, b) => a - b);
    assert.deepEqual(started, ids, 'each export started once, by one worker');
    assert.ok(
      workers.every((w) => w.started().length > 0),
      'both workers took jobs',
    );
    for (const n of names) {
      const e = (await api(apiServer, 'GET', `/v1beta/${n}`)).json;
      assert.equal(e.rowCount, 20);
    }
  });

  test('SIGKILL a worker in the middle of a job: the export still becomes ACTIVE', async () => {
    const op = await api(apiServer, 'POST', `/v1beta/${p.property}/audienceExports`, {
      audience,
      dimensions: [{ dimensionName: 'deviceId' }],
    });
    assert.equal(op.status, 200, JSON.stringify(op.json));
    const name = op.json.response.name as string;
    const id = Number(name.split('/').pop());
    const deadline = Date.now() + 30_000;
    let victim: Worker | undefined;
    while (!(victim = workers.find((w) => w.started().includes(id)))) {
      assert.ok(Date.now() < deadline, 'no worker started the job');
      await sleep(20);
    }
    await victim.kill();
    workers = workers.filter((w) => w !== victim);
    const [state] = await waitActive(apiServer, [name]);
    assert.equal(state, 'ACTIVE');
    assert.ok(workers[0]!.started().includes(id), 'the surviving worker took the job over');
    assert.equal((await api(apiServer, 'GET', `/v1beta/${name}`)).json.rowCount, 20);
  });

  test('SIGKILL an API process under MP load: every acknowledged event is stored', async () => {
    const second = await startServer({ args: ['--role', 'api', ...shared], env });
    const targets = [apiServer, second];
    const acknowledged: string[] = [];
    const ackedBy = new Map<RunningServer, number>(targets.map((t) => [t, 0]));
    let killed = false;
    let stop = false;
    let next = 0;
    // Four clients behind a round-robin load balancer that drops a backend once it stops answering.
    const client = async (c: number) => {
      for (let i = 0; !stop; i++) {
        const live = targets.filter((t) => !(killed && t === second));
        const target = live[next++ % live.length]!;
        const clientId = `load${c}x${i}.1700000000`;
        try {
          const r = await sendMp(target, p, {
            client_id: clientId,
            events: [{ name: 'page_view', params: { page_location: 'https://example.com/' } }],
          });
          if (r.status === 204) {
            acknowledged.push(clientId);
            ackedBy.set(target, ackedBy.get(target)! + 1);
          }
        } catch {
          // The killed process: the request is not acknowledged, the client sends the next one.
        }
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(client));
    await sleep(1500);
    const beforeKill = ackedBy.get(second)!;
    await second.kill();
    killed = true;
    const atKill = acknowledged.length;
    await sleep(1500);
    stop = true;
    await load;
    removeDir(second.dataDir);
    assert.ok(beforeKill > 0, 'the killed process acknowledged events before it died');
    assert.ok(acknowledged.length > atKill, 'the other API process kept serving');
    const stored = new Set(
      (
        await clickhouseQuery(
          `SELECT user_pseudo_id FROM ${database}.events WHERE startsWith(user_pseudo_id, 'load') FORMAT TabSeparated`,
        )
      )
        .split('\n')
        .filter((l) => l !== ''),
    );
    const lost = acknowledged.filter((id) => !stored.has(id));
    assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged events are not stored`);
    const seqs = await clickhouseQuery(
      `SELECT count() - uniqExact(ingest_seq) FROM ${database}.events FORMAT TabSeparated`,
    );
    assert.equal(seqs.trim(), '0', 'two API processes never gave one ingest_seq twice');
  });
});
