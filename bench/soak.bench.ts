// Soak: mixed traffic against one `audex serve` for N minutes, printing every interval the
// server's RSS and open file handles, p99 latencies and errors, so a leak (RSS or handles that
// climb) or an error shows up over time. Traffic, all at once:
// - Measurement Protocol: 25-event requests at a fixed rate (AUDEX_SOAK_MP_RPS, default 200/s =
//   5,000 events/s; issue 13 asks for half the measured maximum, ~21,000 events/s = 850/s on a
//   quiet machine, see BENCHMARKS.md "MP ingest");
// - an NDJSON import (with an importId) every 2 minutes, starting at once;
// - an export of "All Users" every 20 s, waited for, then paged through with :query;
// - an audience list with a webhook every minute, delivered to a receiver in this process.
// Errors are every non-2xx answer, every failed export and every missing webhook delivery; the
// run exits 1 if there was any. When the server falls behind the MP rate, the sender waits (never
// more than 256 requests in flight) and says how often. Usage:
//   npx tsx bench/soak.bench.ts [minutes=30] [intervalSeconds=30]
// AUDEX_MEMORY_LIMIT is passed to the server when set (the RSS column is the server's process).
import { createServer } from 'node:http';
import { procStatusMiB } from './proc-status.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { ADMIN_KEY, api, removeDir, startServer } from '../test/helpers/server.ts';
import { createTestProperty } from '../test/helpers/property.ts';

const minutes = Number(process.argv[2] ?? 30);
const intervalS = Number(process.argv[3] ?? 30);
const mpRps = Number(process.env.AUDEX_SOAK_MP_RPS ?? 200);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Latencies and errors of one kind of work, for the current interval and the whole run. */
class Track {
  private window: number[] = [];
  private all: number[] = [];
  errors = 0;
  count = 0;
  lastError = '';
  add(ms: number): void {
    this.window.push(ms);
    this.all.push(ms);
    this.count++;
  }
  fail(why: string): void {
    this.errors++;
    this.lastError = why.slice(0, 200);
  }
  static p99(xs: number[]): string {
    if (xs.length === 0) return '-';
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!.toFixed(0);
  }
  interval(): string {
    const line = `${this.window.length}/p99 ${Track.p99(this.window)}`;
    this.window = [];
    return line;
  }
  total(): string {
    return `${this.count} done, p99 ${Track.p99(this.all)} ms, ${this.errors} errors${this.lastError ? ` (last: ${this.lastError})` : ''}`;
  }
}

const env: Record<string, string> = { AUDEX_ALLOW_HTTP_WEBHOOKS: '1' };
if (process.env.AUDEX_MEMORY_LIMIT) env.AUDEX_MEMORY_LIMIT = process.env.AUDEX_MEMORY_LIMIT;
const server = await startServer({ env });
// Under AUDEX_MEMORY_LIMIT `audex serve` runs the server as its one child (src/cli/heap-limit.ts).
await sleep(200);
const kids = readFileSync(`/proc/${server.proc.pid}/task/${server.proc.pid}/children`, 'utf8').trim();
const pid = kids ? Number(kids.split(' ')[0]) : server.proc.pid!;
const procStatus = (field: 'VmRSS' | 'VmHWM') => procStatusMiB(pid, field);
const fds = () => readdirSync(`/proc/${pid}/fd`).length;

// Webhook receiver: every POST is one delivery.
const deliveries = new Map<string, number>();
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (d: Buffer) => (body += d.toString()));
  req.on('end', () => {
    try {
      const name = (JSON.parse(body) as { name: string }).name;
      deliveries.set(name, (deliveries.get(name) ?? 0) + 1);
    } catch {
      // counted as missing below
    }
    res.writeHead(200).end();
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;

const p = await createTestProperty(server);
const audiences = (await api(server, 'GET', `/v1alpha/${p.property}/audiences`)).json.audiences as {
  name: string;
  displayName: string;
}[];
const allUsers = audiences.find((a) => a.displayName === 'All Users')!.name;
const auth = { authorization: `Bearer ${ADMIN_KEY}` };

const mp = new Track();
const imports = new Track();
const exportsT = new Track();
const queries = new Track();
const lists = new Track();
const endAt = Date.now() + minutes * 60_000;
const running = () => Date.now() < endAt;

/** Times the MP sender waited because 256 requests were in flight (the server fell behind). */
let held = 0;

/** Fixed-rate MP sender: one request every 1000/mpRps ms, never more than 256 in flight. */
async function mpLoad(): Promise<void> {
  let inFlight = 0;
  let n = 0;
  const url = `${server.url}/mp/collect?measurement_id=${p.measurementId}&api_secret=${p.secret}`;
  const start = Date.now();
  while (running()) {
    const due = start + (n * 1000) / mpRps;
    if (due > Date.now()) await sleep(due - Date.now());
    // Backpressure, not an error: a slow server makes the sender wait (counted as held).
    if (inFlight >= 256) {
      held++;
      while (inFlight >= 256) await sleep(5);
    }
    const i = n++;
    inFlight++;
    const t = performance.now();
    const body = JSON.stringify({
      client_id: `${i % 50_000}.1700000000`,
      events: Array.from({ length: 25 }, (_, k) => ({
        name: k % 5 === 0 ? 'add_to_cart' : 'page_view',
        params: { session_id: String(1_700_000_000 + (i % 500)), engagement_time_msec: 100 },
      })),
    });
    void fetch(url, { method: 'POST', body })
      .then(async (r) => {
        await r.arrayBuffer();
        if (r.status === 204) mp.add(performance.now() - t);
        else mp.fail(`HTTP ${r.status}`);
      })
      .catch((err: Error) => mp.fail(err.message))
      .finally(() => inFlight--);
  }
  while (inFlight > 0) await sleep(10);
}

async function importLoop(): Promise<void> {
  for (let k = 0; running(); k++) {
    const rows = Array.from({ length: 20_000 }, (_, i) =>
      JSON.stringify({
        event_date: '20240601',
        event_timestamp: String(1717200000000000 + k * 1_000_000_000 + i),
        event_name: i % 7 === 0 ? 'purchase' : 'page_view',
        user_pseudo_id: `imp.${i % 5000}`,
      }),
    ).join('\n');
    const t = performance.now();
    try {
      const r = await fetch(`${server.url}/audex/v1/${p.property}:import?importId=soak-${k}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/x-ndjson' },
        body: rows,
      });
      const json = (await r.json()) as { importedRows?: number };
      if (r.status === 200 && json.importedRows === 20_000) imports.add(performance.now() - t);
      else imports.fail(`HTTP ${r.status} ${JSON.stringify(json)}`);
    } catch (err) {
      imports.fail((err as Error).message);
    }
    for (let s = 0; s < 120 && running(); s++) await sleep(1000);
  }
}

async function waitDone(
  version: 'v1beta' | 'v1alpha',
  name: string,
): Promise<{ state: string; rowCount?: number; errorMessage?: string }> {
  for (;;) {
    const e = (await api(server, 'GET', `/${version}/${name}`)).json;
    if (e.state !== 'CREATING') return e;
    await sleep(250);
  }
}

async function exportLoop(): Promise<void> {
  while (running()) {
    const t = performance.now();
    try {
      const op = await api(server, 'POST', `/v1beta/${p.property}/audienceExports`, {
        audience: allUsers,
        dimensions: [{ dimensionName: 'deviceId' }, { dimensionName: 'userId' }],
      });
      if (op.status !== 200) throw new Error(`create: HTTP ${op.status} ${JSON.stringify(op.json)}`);
      const e = await waitDone('v1beta', op.json.response.name as string);
      if (e.state !== 'ACTIVE') throw new Error(`export ${e.state}: ${e.errorMessage ?? ''}`);
      exportsT.add(performance.now() - t);
      for (let offset = 0; offset < (e.rowCount ?? 0); offset += 10_000) {
        const q = performance.now();
        const r = await api(server, 'POST', `/v1beta/${op.json.response.name}:query`, {
          offset: String(offset),
          limit: '10000',
        });
        if (r.status === 200) queries.add(performance.now() - q);
        else queries.fail(`HTTP ${r.status}`);
      }
    } catch (err) {
      exportsT.fail((err as Error).message);
    }
    await sleep(20_000);
  }
}

async function listLoop(): Promise<void> {
  const made: string[] = [];
  while (running()) {
    const t = performance.now();
    const r = await api(server, 'POST', `/v1alpha/${p.property}/audienceLists`, {
      audience: allUsers,
      dimensions: [{ dimensionName: 'deviceId' }],
      webhookNotification: { uri: hookUrl, channelToken: 'soak' },
    });
    if (r.status !== 200) lists.fail(`HTTP ${r.status} ${JSON.stringify(r.json)}`);
    else {
      const e = await waitDone('v1alpha', r.json.response.name as string);
      if (e.state === 'ACTIVE') {
        lists.add(performance.now() - t);
        made.push(r.json.response.name as string);
      } else lists.fail(`list ${e.state}`);
    }
    for (let s = 0; s < 60 && running(); s++) await sleep(1000);
  }
  // Every list gets its two notifications (CREATING, ACTIVE): wait up to 30 s for the last ones.
  for (let s = 0; s < 300 && made.some((n) => (deliveries.get(n) ?? 0) < 2); s++) await sleep(100);
  for (const n of made)
    if ((deliveries.get(n) ?? 0) !== 2)
      lists.fail(`${n}: ${deliveries.get(n) ?? 0} webhook deliveries, expected 2`);
}

console.log(
  `soak: ${minutes} min, MP ${mpRps} req/s (${mpRps * 25} events/s), import every 2 min, export every 20 s, list + webhook every min; AUDEX_MEMORY_LIMIT=${env.AUDEX_MEMORY_LIMIT ?? 'unset'}`,
);
console.log('t(s)  rss(MiB) peak(MiB) fds  load1  mp n/p99(ms)  export n/p99  query n/p99  errors');
const started = Date.now();
const reporter = setInterval(() => {
  const errors = mp.errors + imports.errors + exportsT.errors + queries.errors + lists.errors;
  console.log(
    [
      String(Math.round((Date.now() - started) / 1000)).padStart(4),
      procStatus('VmRSS').toFixed(0).padStart(8),
      procStatus('VmHWM').toFixed(0).padStart(9),
      String(fds()).padStart(4),
      loadavg()[0]!.toFixed(1).padStart(6),
      mp.interval().padStart(13),
      exportsT.interval().padStart(12),
      queries.interval().padStart(12),
      String(errors).padStart(7),
    ].join('  '),
  );
}, intervalS * 1000);

try {
  await Promise.all([mpLoad(), importLoop(), exportLoop(), listLoop()]);
} finally {
  clearInterval(reporter);
  console.log(`MP:      ${mp.total()}; the sender waited ${held} times for 256 requests in flight`);
  console.log(`imports: ${imports.total()}`);
  console.log(`exports: ${exportsT.total()} (create -> ACTIVE)`);
  console.log(`queries: ${queries.total()}`);
  console.log(`lists:   ${lists.total()} (create -> ACTIVE, 2 webhook deliveries each)`);
  console.log(
    `server:  RSS ${procStatus('VmRSS').toFixed(0)} MiB, peak ${procStatus('VmHWM').toFixed(0)} MiB, ${fds()} open files`,
  );
  await server.stop();
  removeDir(server.dataDir);
  receiver.close();
}
const errors = mp.errors + imports.errors + exportsT.errors + queries.errors + lists.errors;
process.exit(errors === 0 ? 0 : 1);
