// `audex demo` end to end: spawned like `npm start` runs it (on free ports and a fresh data folder),
// it seeds the demo shop property through the public API, prints how to export, then serves. The
// demo audiences must be exportable with rows; a second start on the same folder only serves (and
// prints the instructions again).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN_KEY,
  api,
  freePort,
  removeDir,
  startServer,
  tempDataDir,
  type RunningServer,
} from './helpers/server.ts';
import { DEMO_AUDIENCES } from '../src/demo/audiences.ts';
import { createExportAndWait } from './helpers/exports.ts';

describe('audex demo', () => {
  let server: RunningServer;
  const dataDir = tempDataDir('audex-demo-test-');
  let property: string;
  /** /healthz and /livez as seen while the demo was seeding, in order. */
  const probes: { healthz: number; body: unknown; livez: number }[] = [];

  before(async () => {
    // A known port, so /healthz can be watched while the demo seeds (before the start line).
    const port = await freePort();
    const starting = startServer({ command: 'demo', dataDir, startTimeoutMs: 240_000, port });
    let started = false;
    void starting.then(
      () => (started = true),
      () => (started = true),
    );
    while (!started) {
      try {
        const h = await fetch(`http://127.0.0.1:${port}/healthz`);
        const body: unknown = await h.json();
        const l = await fetch(`http://127.0.0.1:${port}/livez`);
        await l.arrayBuffer();
        if (!started) probes.push({ healthz: h.status, body, livez: l.status });
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    server = await starting;
  });

  after(async () => {
    await server?.stop();
    removeDir(dataDir);
  });

  test('/healthz answers 503 while the demo seeds (alive: /livez 200), then 200 with its audiences', async () => {
    const seeding = probes.filter((p) => p.healthz === 503);
    assert.ok(seeding.length > 0, `the server listened before it was ready: ${JSON.stringify(probes)}`);
    for (const p of seeding) {
      assert.deepEqual(p.body, { status: 'starting' });
      assert.equal(p.livez, 200, 'alive while not ready');
    }
    // 503 until ready, then 200 (the start line is printed just after): never back.
    const firstOk = probes.findIndex((p) => p.healthz === 200);
    if (firstOk >= 0)
      assert.ok(
        probes.slice(firstOk).every((p) => p.healthz === 200),
        JSON.stringify(probes),
      );
    assert.equal(seeding.length + probes.filter((p) => p.healthz === 200).length, probes.length);
    const ready = await fetch(`${server.url}/healthz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ok' });
    // Ready means ready for its documented use: the demo audiences exist.
    const props = (await api(server, 'GET', '/v1beta/properties?filter=parent:accounts/1')).json;
    const audiences = (
      await api(server, 'GET', `/v1alpha/${props.properties[0].name}/audiences?pageSize=200`)
    ).json.audiences as any[];
    for (const a of DEMO_AUDIENCES)
      assert.ok(
        audiences.some((x) => x.displayName === a.displayName),
        `audience ${String(a.displayName)}`,
      );
  });

  test('creates the Demo shop property with a web stream and an MP secret', async () => {
    const list = (await api(server, 'GET', '/v1beta/properties?filter=parent:accounts/1')).json;
    assert.equal(list.properties.length, 1);
    const p = list.properties[0];
    assert.equal(p.displayName, 'Demo shop');
    assert.equal(p.timeZone, 'Europe/Berlin');
    assert.equal(p.currencyCode, 'EUR');
    property = p.name;
    const streams = (await api(server, 'GET', `/v1beta/${property}/dataStreams`)).json.dataStreams;
    assert.equal(streams.length, 1);
    assert.equal(streams[0].type, 'WEB_DATA_STREAM');
    const secrets = (await api(server, 'GET', `/v1beta/${streams[0].name}/measurementProtocolSecrets`)).json;
    assert.equal(secrets.measurementProtocolSecrets.length, 1);
  });

  test('imported a realistic history (sessions, ecommerce, user ids, refunds) and recent MP events', async () => {
    const r = await api(server, 'GET', `/audex/v1/${property}/events?limit=10000`);
    assert.equal(r.status, 200);
    const events = r.json.events as any[];
    assert.ok(events.length >= 1000);
    const names = new Set(events.map((e) => e.event_name));
    for (const n of ['page_view', 'view_item', 'add_to_cart', 'begin_checkout', 'purchase', 'search'])
      assert.ok(names.has(n), `has ${n} events`);
    assert.ok(events.every((e) => e.ga_session_id !== null && e.ga_session_id !== undefined));
    const metrics = (await api(server, 'GET', '/audex/v1/metrics')).json;
    assert.ok(metrics, 'metrics answer');
    const out = server.output();
    const imported = /(\d+) imported events .* and (\d+) recent events via \/mp\/collect/.exec(out);
    assert.ok(imported, out);
    assert.ok(Number(imported[1]) > 20_000, `imported ${imported[1]}`);
    assert.ok(Number(imported[2]) > 0);
  });

  test('created the demo audiences and printed how to export them', async () => {
    const list = (await api(server, 'GET', `/v1alpha/${property}/audiences?pageSize=200`)).json
      .audiences as any[];
    const names = list.map((a) => a.displayName);
    for (const a of DEMO_AUDIENCES)
      assert.ok(names.includes(a.displayName), `audience ${String(a.displayName)}`);
    const out = server.output();
    const first = list.find((a) => a.displayName === DEMO_AUDIENCES[0]!.displayName).name;
    assert.ok(out.includes(`exports create --audience ${first}`), out);
    assert.ok(out.includes(`/v1beta/${property}/audienceExports`));
    assert.ok(out.includes(`access_token: '${ADMIN_KEY}'`));
    assert.ok(out.includes(`port: ${server.port}, protocol: 'http'`));
    assert.ok(out.indexOf('BetaAnalyticsDataClient') < out.indexOf('audex serving REST on'));
  });

  test('an export of a demo audience becomes ACTIVE with rows', async () => {
    const list = (await api(server, 'GET', `/v1alpha/${property}/audiences?pageSize=200`)).json
      .audiences as any[];
    for (const displayName of ['Cart abandoners', 'High-value purchasers']) {
      const audience = list.find((a) => a.displayName === displayName).name;
      const e = await createExportAndWait(server, property, audience, ['deviceId', 'userId'], 250);
      assert.ok(e.rowCount > 0, `${displayName}: ${e.rowCount} rows`);
      const q = await api(server, 'POST', `/v1beta/${e.name}:query`, { limit: '5' });
      assert.equal(q.json.audienceRows.length, Math.min(5, e.rowCount));
    }
  });

  test('a second start on the same data folder only serves, and still prints how to get in', async () => {
    await server.stop();
    server = await startServer({ command: 'demo', dataDir, startTimeoutMs: 120_000 });
    assert.match(server.output(), /already has properties/);
    const audiences = (await api(server, 'GET', `/v1alpha/${property}/audiences?pageSize=200`)).json
      .audiences as any[];
    const first = audiences.find((a) => a.displayName === DEMO_AUDIENCES[0]!.displayName).name;
    assert.ok(server.output().includes(`Operator key: ${ADMIN_KEY}`), server.output());
    assert.ok(server.output().includes(`exports create --audience ${first}`), server.output());
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const list = (await api(server, 'GET', '/v1beta/properties?filter=parent:accounts/1')).json;
    assert.equal(list.properties.length, 1);
  });
});
