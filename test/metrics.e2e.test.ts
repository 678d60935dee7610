// GET /metrics: Prometheus text exposition (prom-client) that parses line by line and counts what
// the server did (a known request, collected and dropped events, ingest batches, an export job,
// DuckDB memory); structured request logs that carry the route template and never a key; the
// liveness/readiness pair; and the operator setting that puts /metrics behind a key.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';
import { createExportAndWait } from './helpers/exports.ts';

type Samples = Map<string, number>;

/**
 * A strict reader of the text format (version 0.0.4): every line is a HELP or TYPE comment, or a
 * sample `name{label="value",…} value` of a declared family. Returns samples keyed by name and
 * sorted labels, e.g. `audex_http_requests_total{method="GET",route="/x",status="200"}`.
 */
function parsePrometheus(text: string): Samples {
  const types = new Map<string, string>();
  const samples: Samples = new Map();
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const label = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\["\\\\n])*"`;
  const sample = new RegExp(`^(${name})(?:\\{((?:${label})(?:,${label})*)?,?\\})? (\\S+)(?: -?\\d+)?$`);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = new RegExp(`^# HELP (${name}) .*$`).exec(line);
    if (help) continue;
    const type = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      assert.ok(!types.has(type[1]!), `TYPE of ${type[1]} declared twice`);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const m = sample.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${JSON.stringify(line)}`);
    const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
    assert.ok(
      types.has(m[1]!) || types.get(family) === 'histogram',
      `sample of an undeclared family: ${line}`,
    );
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    // NaN is case-insensitive, as Prometheus parses it (prom-client prints an empty summary as Nan).
    assert.ok(/^nan$/i.test(m[3]!) || !Number.isNaN(value), `value of ${line}`);
    const labels = (m[2] ?? '')
      .split(/,(?=[a-zA-Z_][a-zA-Z0-9_]*=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    samples.set(labels ? `${m[1]}{${labels}}` : m[1]!, value);
  }
  return samples;
}

async function scrape(server: { url: string }, key?: string): Promise<Samples> {
  const res = await fetch(
    `${server.url}/metrics`,
    key ? { headers: { authorization: `Bearer ${key}` } } : {},
  );
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

const get = (s: Samples, key: string) => s.get(key) ?? 0;

describe('metrics and request logs', () => {
  let server: RunningServer;
  let p: TestProperty;

  before(async () => {
    server = await startServer();
    p = await createTestProperty(server);
  });
  after(async () => {
    await server?.stop();
    removeDir(server.dataDir);
  });

  test('/livez and /healthz answer 200 on a started server', async () => {
    assert.equal((await fetch(`${server.url}/livez`)).status, 200);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  test('/metrics parses as Prometheus text and counts a known request by route template and status', async () => {
    const route = 'audex_http_requests_total{method="GET",route="/v1beta/{name=properties/*}",status="200"}';
    const notFound =
      'audex_http_requests_total{method="GET",route="/v1beta/{name=properties/*}",status="404"}';
    const before = await scrape(server);
    for (let i = 0; i < 3; i++) assert.equal((await api(server, 'GET', `/v1beta/${p.property}`)).status, 200);
    assert.equal((await api(server, 'GET', '/v1beta/properties/999999')).status, 404);
    const afterScrape = await scrape(server);
    assert.equal(get(afterScrape, route) - get(before, route), 3);
    assert.equal(get(afterScrape, notFound) - get(before, notFound), 1);
    const count =
      'audex_http_request_duration_seconds_count{method="GET",route="/v1beta/{name=properties/*}",status="200"}';
    assert.equal(get(afterScrape, count) - get(before, count), 3);
    assert.ok(afterScrape.has('audex_process_resident_memory_bytes'));
  });

  test('collection, ingest batches, drops by reason, an export job and DuckDB memory are counted', async () => {
    const before = await scrape(server);
    const mp = await sendMp(server, p, {
      client_id: 'metrics.1',
      events: [{ name: 'page_view' }, { name: 'add_to_cart' }],
    });
    assert.equal(mp.status, 204);
    assert.equal((await sendMp(server, p, { client_id: 'x', events: [] }, { secret: 'wrong' })).status, 204);
    const audience = (await api(server, 'GET', `/v1alpha/${p.property}/audiences`)).json.audiences.find(
      (a: { displayName: string }) => a.displayName === 'All Users',
    ).name as string;
    await createExportAndWait(server, p.property, audience, ['deviceId']);
    const s = await scrape(server);
    assert.equal(
      get(s, 'audex_collect_events_stored_total') - get(before, 'audex_collect_events_stored_total'),
      2,
    );
    assert.equal(get(s, 'audex_collect_requests_total') - get(before, 'audex_collect_requests_total'), 2);
    const dropped = [...s.keys()].filter((k) => k.startsWith('audex_collect_requests_dropped_total{'));
    assert.ok(
      dropped.some((k) => get(s, k) - get(before, k) === 1),
      `a drop by reason: ${dropped.join(' ')}`,
    );
    assert.ok(get(s, 'audex_ingest_batch_events_count') > get(before, 'audex_ingest_batch_events_count'));
    assert.ok(get(s, 'audex_ingest_commit_duration_seconds_count{outcome="ok"}') >= 1);
    assert.ok(get(s, 'audex_export_jobs{kind="export",state="ACTIVE"}') >= 1);
    assert.ok(get(s, 'audex_export_job_duration_seconds_count{kind="export",state="ACTIVE"}') >= 1);
    assert.ok(s.has('audex_webhook_deliveries{state="PENDING"}'));
    assert.ok(get(s, 'audex_duckdb_memory_bytes{tag="TOTAL"}') >= 0);
  });

  test('request logs: one JSON line per request with route template, status, duration, property; never a key', async () => {
    await api(server, 'GET', `/v1beta/${p.property}/dataStreams?key=${ADMIN_KEY}`);
    // The line is written when the response closes and reaches us through the child's pipe: poll.
    const find = () =>
      server
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find(
          (l) =>
            l.msg === 'request' &&
            l.method === 'GET' &&
            l.route === '/v1beta/{parent=properties/*}/dataStreams',
        );
    let line = find();
    for (let i = 0; i < 50 && !line; i++) {
      await new Promise((r) => setTimeout(r, 100));
      line = find();
    }
    assert.ok(line, 'a request line for the data streams list');
    assert.equal(line.method, 'GET');
    assert.equal(line.status, 200);
    assert.equal(line.property, p.property);
    assert.equal(line.level, 'info');
    assert.equal(typeof line.durationMs, 'number');
    assert.ok(!server.output().includes(ADMIN_KEY), 'the key never reaches the output');
    assert.ok(!server.output().includes(p.secret), 'nor does the MP api_secret');
  });
});

describe('metrics behind a key (AUDEX_METRICS_REQUIRE_KEY)', () => {
  test('401 without a key, 200 with one; AUDEX_LOG_LEVEL=warn drops the request logs', async () => {
    const server = await startServer({ env: { AUDEX_METRICS_REQUIRE_KEY: 'true', AUDEX_LOG_LEVEL: 'warn' } });
    try {
      const anonymous = await fetch(`${server.url}/metrics`);
      assert.equal(anonymous.status, 401);
      assert.equal(
        ((await anonymous.json()) as { error: { status: string } }).error.status,
        'UNAUTHENTICATED',
      );
      const s = await scrape(server, ADMIN_KEY);
      assert.ok(s.size > 0);
      assert.doesNotMatch(server.output(), /"msg":"request"/);
    } finally {
      await server.stop();
      removeDir(server.dataDir);
    }
  });
});
