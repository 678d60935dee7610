// The Measurement Protocol request bodies and the load-generator plumbing shared by the MP benches
// (mp-ingest.bench.ts against audex, http-ceiling.bench.ts against a bare server), so both send
// exactly the same requests and report CPU the same way.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbDatabase } from '../src/storage/duckdb/connection.ts';
import { ensureSchema, EVENTS_TABLE } from '../src/storage/duckdb/schema.ts';
import { appendRow } from '../src/storage/duckdb/event-store.ts';
import { validateMeasurementBody } from '../src/ingest/mp/validate.ts';
import { toEvents } from '../src/ingest/mp/to-events.ts';
import type { NewEvent } from '../src/domain/event.ts';
import autocannon from 'autocannon';

export const POOL = 4096;

/** One 25-event request of client n (a third with a user_id). */
function mpBodyText(n: number, clientId = `${n}.1700000000`): string {
  return JSON.stringify({
    client_id: clientId,
    user_id: n % 3 === 0 ? `user-${n}` : undefined,
    events: Array.from({ length: 25 }, (_, i) => ({
      name: i % 5 === 0 ? 'add_to_cart' : 'page_view',
      params: {
        session_id: String(1_700_000_000 + (n % 1000)),
        page_location: `https://shop.example/p/${i}`,
        value: i * 1.5,
        engagement_time_msec: 100,
      },
    })),
  });
}

/**
 * The request bodies, built before the run: `clients` distinct client ids. Up to POOL clients
 * the bodies are ready-made buffers; beyond that, body n % POOL gets client id n put in at send
 * time (one string replace), so a million users cost no memory.
 */
export function mpBodies(clients: number): (n: number) => Buffer {
  if (clients <= POOL) {
    const pool = Array.from({ length: clients }, (_, i) => Buffer.from(mpBodyText(i)));
    return (n) => pool[n % clients]!;
  }
  const templates = Array.from({ length: POOL }, (_, i) => mpBodyText(i, '@CLIENT@'));
  return (n) => {
    const id = n % clients;
    return Buffer.from(templates[id % POOL]!.replace('@CLIENT@', `${id}.1700000000`));
  };
}

/** Clock ticks (1/100 s) of user + system time of a process, from /proc. */
export function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * POSTs requests of `clients` distinct client ids to `url` from `connections` connections for
 * `seconds`, measuring the wall time
 * and the CPU of the server process `serverPid` and of this process (the load generator).
 */
export async function postLoad(
  url: string,
  serverPid: number,
  connections: number,
  seconds: number,
  clients = POOL,
) {
  const body = mpBodies(clients);
  let sent = 0;
  const serverCpu0 = cpuTicks(serverPid);
  const selfCpu0 = process.cpuUsage();
  const wall0 = performance.now();
  // Gaps between acknowledgements (2xx responses, whichever client): the longest is the longest
  // time nothing was acknowledged at all, a stall (a checkpoint, a long GC, a blocked loop).
  let lastAck = 0;
  let longestGap = 0;
  const instance = autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections,
    duration: seconds,
    requests: [
      {
        setupRequest: (req) => {
          req.body = body(sent++);
          return req;
        },
      },
    ],
  });
  // Without a callback autocannon returns its tracker (an EventEmitter) made thenable.
  (instance as unknown as import('node:events').EventEmitter).on(
    'response',
    (_client: unknown, statusCode: number) => {
      if (statusCode < 200 || statusCode > 299) return;
      const now = performance.now();
      if (lastAck > 0 && now - lastAck > longestGap) longestGap = now - lastAck;
      lastAck = now;
    },
  );
  const result = await instance;
  const wall = (performance.now() - wall0) / 1000;
  const self = process.cpuUsage(selfCpu0);
  return {
    result,
    wall,
    /** CPU seconds of the server (all threads) and of the load generator over the run. */
    serverCpu: (cpuTicks(serverPid) - serverCpu0) / 100,
    selfCpu: (self.user + self.system) / 1e6,
    /** The longest time between two acknowledgements (ms). */
    longestGap,
  };
}

/**
 * The write floor in the same run: the bench's own events (the requests above, validated and
 * converted beforehand, untimed) appended by the DuckDB appender on one thread, in transactions
 * of `batch` rows (BEGIN, appender, flushSync, COMMIT), into a fresh database. Rows per second.
 */
export async function appenderFloor(rows: number, batch: number): Promise<number> {
  const now = BigInt(Date.now()) * 1000n;
  const body = mpBodies(POOL);
  const events: NewEvent[] = [];
  for (let i = 0; events.length < rows; i++) {
    const v = validateMeasurementBody(body(i), {
      query: { measurement_id: 'G-BENCH', api_secret: 'x' },
      debug: false,
      nowMicros: now,
    });
    if (v.events.length === 0)
      throw new Error(`bench request ${i} is invalid: ${JSON.stringify(v.messages)}`);
    events.push(...toEvents(v.events, { propertyId: 1n, streamId: '1', timeZone: 'UTC', nowMicros: now }));
  }
  const dir = mkdtempSync(join(tmpdir(), 'audex-bench-floor-'));
  const db = await DuckDbDatabase.open({ dataDir: dir });
  await ensureSchema(db.writer);
  let seq = 1n;
  const t0 = performance.now();
  await db.writer.exclusive(async (con) => {
    for (let start = 0; start < rows; start += batch) {
      await con.run('BEGIN TRANSACTION');
      const ap = await con.createAppender(EVENTS_TABLE);
      for (let i = start; i < Math.min(rows, start + batch); i++) {
        appendRow(ap, events[i]!, seq++);
        ap.endRow();
      }
      ap.flushSync();
      ap.closeSync();
      await con.run('COMMIT');
    }
  });
  const perSecond = (rows / (performance.now() - t0)) * 1000;
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  return perSecond;
}
