// The Measurement Protocol request bodies and the load-generator plumbing shared by the MP benches
// (mp-ingest.bench.ts against audex, http-ceiling.bench.ts against a bare server), so both send
// exactly the same requests and report CPU the same way.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export const POOL = 4096;

/** One 25-event request of client n (100,000 client ids in all; a third with a user_id). */
export function mpBody(n: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      client_id: `${n % 100_000}.1700000000`,
      user_id: n % 3 === 0 ? `user-${n % 100_000}` : undefined,
      events: Array.from({ length: 25 }, (_, i) => ({
        name: i % 5 === 0 ? 'add_to_cart' : 'page_view',
        params: {
          session_id: String(1_700_000_000 + (n % 1000)),
          page_location: `https://shop.example/p/${i}`,
          value: i * 1.5,
          engagement_time_msec: 100,
        },
      })),
    }),
  );
}

/** Bodies built before the run, so the load generator only copies buffers. */
export function mpBodyPool(): Buffer[] {
  return Array.from({ length: POOL }, (_, i) => mpBody(i));
}

/** Clock ticks (1/100 s) of user + system time of a process, from /proc. */
export function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * POSTs the body pool to `url` from `connections` clients for `seconds`, measuring the wall time
 * and the CPU of the server process `serverPid` and of this process (the load generator).
 */
export async function postLoad(url: string, serverPid: number, connections: number, seconds: number) {
  // Client ids n, n + POOL, n + 2·POOL… share a body shape; the id prefix varies per round.
  const pool = mpBodyPool();
  let sent = 0;
  const serverCpu0 = cpuTicks(serverPid);
  const selfCpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections,
    duration: seconds,
    requests: [
      {
        setupRequest: (req) => {
          req.body = pool[sent++ % POOL]!;
          return req;
        },
      },
    ],
  });
  const wall = (performance.now() - wall0) / 1000;
  const self = process.cpuUsage(selfCpu0);
  return {
    result,
    wall,
    /** CPU seconds of the server (all threads) and of the load generator over the run. */
    serverCpu: (cpuTicks(serverPid) - serverCpu0) / 100,
    selfCpu: (self.user + self.system) / 1e6,
  };
}
