// Measurement Protocol in front of ClickHouse with one and with two API processes (`--role api`,
// a shared PostgreSQL catalog, the same ClickHouse database): each run posts 25-event requests
// from 64 connections for the given seconds (split evenly over the processes, as a load balancer
// would) and prints events/s, latency percentiles, each process's CPU and peak RSS, and the events
// ClickHouse holds afterwards (never fewer than acknowledged). Usage:
//   npx tsx bench/clickhouse-mp-processes.bench.ts [seconds=15] [connections=64]
// ClickHouse (Debian's 18.16) and PostgreSQL are started privately on free ports by the test
// helpers; on this 2-core machine the processes, ClickHouse and the load generator share the
// cores, so the ratio of the two runs shows the overhead or gain of a second process here, not
// what a second machine would add.

import { loadavg } from 'node:os';
import { procStatusMiB } from './proc-status.ts';
import { removeDir, startServer, type RunningServer } from '../test/helpers/server.ts';
import { createTestProperty } from '../test/helpers/property.ts';
import { startClickHouse } from '../test/helpers/clickhouse-server.ts';
import { startPostgres } from '../test/helpers/postgres-server.ts';
import { postLoad } from './mp-requests.ts';

const seconds = Number(process.argv[2] ?? 15);
const connections = Number(process.argv[3] ?? 64);

const clickhouse = await startClickHouse();
const postgres = await startPostgres();
try {
  for (const processes of [1, 2]) {
    const database = `audex_mp_bench_${processes}`;
    const eventsUrl = clickhouse.eventsUrl(database);
    const catalogUrl = await postgres.createDatabase(`audex_mp_bench_${processes}`);
    const args = ['--role', 'api', '--events-url', eventsUrl, '--catalog-url', catalogUrl];
    const servers: RunningServer[] = [];
    for (let i = 0; i < processes; i++) servers.push(await startServer({ args }));
    try {
      const p = await createTestProperty(servers[0]!);
      const runs = await Promise.all(
        servers.map((s) =>
          postLoad(
            `${s.url}/mp/collect?measurement_id=${p.measurementId}&api_secret=${p.secret}`,
            s.proc.pid!,
            Math.max(1, Math.floor(connections / processes)),
            seconds,
          ),
        ),
      );
      const ok = runs.reduce((n, r) => n + r.result['2xx'], 0);
      const non2xx = runs.reduce((n, r) => n + r.result.non2xx + r.result.errors, 0);
      const res = await fetch(
        `${clickhouse.nodes[0]!.httpUrl}/?query=${encodeURIComponent(`SELECT count() FROM ${database}.events`)}`,
      );
      const stored = Number((await res.text()).trim());
      console.log(
        `${processes} API process(es), ${connections} connections, ${seconds} s: ${Math.round((ok * 25) / seconds)} events/s acknowledged (${ok * 25}; ClickHouse holds ${stored}; non-2xx/errors ${non2xx})`,
      );
      for (const [i, r] of runs.entries())
        console.log(
          `  process ${i + 1}: p50=${r.result.latency.p50} ms p99=${r.result.latency.p99} ms max=${r.result.latency.max} ms; cpu ${((100 * r.serverCpu) / r.wall).toFixed(0)}% (all threads); peak RSS ${Math.round(procStatusMiB(servers[i]!.proc.pid!, 'VmHWM'))} MiB`,
        );
      if (stored < ok * 25)
        throw new Error(`ClickHouse holds ${stored} events, fewer than acknowledged ${ok * 25}`);
    } finally {
      for (const s of servers) {
        await s.stop();
        removeDir(s.dataDir);
      }
    }
  }
} finally {
  await clickhouse.stop();
  await postgres.stop();
}
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
