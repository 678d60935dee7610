// Measurement Protocol ingest over loopback: concurrent clients POST 25-event requests to
// /mp/collect on a server started like a user starts it; every 204 is a durable acknowledgement.
// Prints events/s and request latency percentiles. Usage:
//   npx tsx bench/mp-ingest.bench.ts [seconds=15] [connections=64]
import autocannon from 'autocannon';
import { removeDir, startServer } from '../test/helpers/server.ts';
import { createTestProperty } from '../test/helpers/property.ts';

const seconds = Number(process.argv[2] ?? 15);
const connections = Number(process.argv[3] ?? 64);

const server = await startServer();
const p = await createTestProperty(server);
let n = 0;
const body = () => {
  n++;
  return JSON.stringify({
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
  });
};

const result = await autocannon({
  url: `${server.url}/mp/collect?measurement_id=${p.measurementId}&api_secret=${p.secret}`,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  connections,
  duration: seconds,
  requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }],
});

const stored = await fetch(`${server.url}/audex/v1/metrics`, {
  headers: { authorization: 'Bearer test-admin-key-0123456789abcdef' },
}).then((r) => r.json());
await server.stop();
removeDir(server.dataDir);

const ok = result['2xx'];
console.log(
  `connections=${connections} duration=${seconds}s requests=${result.requests.total} 2xx=${ok} non2xx=${result.non2xx} errors=${result.errors}`,
);
console.log(
  `events acknowledged: ${ok * 25} (${Math.round((ok * 25) / seconds)} events/s; stored per server: ${stored.collect.eventsStored})`,
);
console.log(
  `latency ms: p50=${result.latency.p50} p90=${result.latency.p90} p99=${result.latency.p99} max=${result.latency.max}`,
);
console.log(
  `ingest appends: ${stored.ingest.appends} (mean batch ${Math.round(stored.ingest.events / Math.max(1, stored.ingest.appends))} events)`,
);
