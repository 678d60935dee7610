// The floor under every whole-window audience statement: the cost of reading the evaluation
// window's columns once, on bench/audience-members.bench.ts's generated events (run that first;
// same AUDEX_BENCH_EVENTS / AUDEX_BENCH_DB). Prints, best of AUDEX_BENCH_RUNS (3):
//   - the distinct users of the window (the user column of every event: what any audience whose
//     condition may involve any event, such as "directly followed by", must read);
//   - the same with the stream order columns and the event name (what a lag over every event
//     sorts);
//   - a sort of those rows by (user, time, ingest order), as a window function needs.
// Run by hand: npx tsx bench/scan-floor.bench.ts

import { loadavg } from 'node:os';
import { DuckDBInstance } from '@duckdb/node-api';
import { DB, MEMORY_LIMIT, RUNS, WINDOW } from './audience-members.bench.ts';

const instance = await DuckDBInstance.create(DB, { threads: '2', memory_limit: MEMORY_LIMIT });
const con = await instance.connect();
const QUERIES: [string, string][] = [
  ['distinct users of the window', `SELECT count(DISTINCT user_pseudo_id) FROM events WHERE ${WINDOW}`],
  [
    'user, time, ingest order and name of every event (read)',
    `SELECT count(*), max(length(user_pseudo_id)), max(event_timestamp), max(ingest_seq), max(length(event_name)) FROM events WHERE ${WINDOW}`,
  ],
  [
    'the same, sorted by user and stream order (lag over every event)',
    `SELECT count(*) FILTER (WHERE p = 'view_item') FROM (SELECT lag(event_name) OVER (PARTITION BY user_pseudo_id ORDER BY event_timestamp, ingest_seq) AS p FROM events WHERE ${WINDOW})`,
  ],
];
const events = Number((await con.runAndReadAll('SELECT count(*) FROM events')).getRows()[0]?.[0] ?? 0);
console.log(`${events.toLocaleString('en-US')} events in ${DB}, threads=2, memory_limit=${MEMORY_LIMIT}`);
for (const [name, text] of QUERIES) {
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    await con.runAndReadAll(text);
    best = Math.min(best, performance.now() - t);
  }
  console.log(`${name}: ${best.toFixed(0)} ms`);
}
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
con.closeSync();
instance.closeSync();
