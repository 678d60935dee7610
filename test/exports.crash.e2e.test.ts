// Snapshot boundaries and crash safety of export creation, against `audex serve`:
// - events acknowledged by /mp/collect before the create call are in the snapshot, events sent
//   after it are not (not even backdated ones: the snapshot records the high-water ingest_seq);
// - kill -9 while an export is CREATING, restart on the same data folder: the export completes
//   with the right rows (never stuck in CREATING).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN_KEY,
  api,
  postgresCatalogOf,
  removeDir,
  startServer,
  type RunningServer,
} from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';
import { dataClient } from './helpers/clients.ts';
import { allEvents, expectedAttributes } from './helpers/exports.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { BUILTIN_AUDIENCES } from '../src/audience/validate.ts';
import { rfc3339ToMicros } from '../src/domain/time.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const purchase = (clientId: string, extra: Record<string, unknown> = {}) => ({
  client_id: clientId,
  ...extra,
  events: [{ name: 'purchase', params: { value: 5, currency: 'EUR' } }],
});

async function purchasers(server: RunningServer, property: string) {
  const list = (await api(server, 'GET', `/v1alpha/${property}/audiences`)).json.audiences as any[];
  return list.find((a) => a.displayName === 'Purchasers') as { name: string; createTime: string };
}

async function waitState(server: RunningServer, name: string, state: string, ms = 30_000): Promise<any> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await api(server, 'GET', `/v1beta/${name}`);
    if (r.json?.state === state) return r.json;
    if (Date.now() > end) throw new Error(`${name} never reached ${state}: ${JSON.stringify(r.json)}`);
    await sleep(50);
  }
}

async function deviceIds(server: RunningServer, name: string): Promise<string[]> {
  const client = dataClient(server.port, ADMIN_KEY);
  const [page] = await client.queryAudienceExport({ name, limit: 250_000 });
  return page.audienceRows!.map((r) => r.dimensionValues![0]!.value!);
}

describe('snapshot boundary: acknowledged before the create call vs after', () => {
  let server: RunningServer;
  let p: TestProperty;
  let name: string;
  before(async () => {
    server = await startServer({ env: { AUDEX_TEST_EXPORT_DELAY_MS: '1500' } });
    p = await createTestProperty(server);
    assert.equal((await sendMp(server, p, purchase('before.1'))).status, 204);
    const aud = await purchasers(server, p.property);
    const op = await api(server, 'POST', `/v1beta/${p.property}/audienceExports`, {
      audience: aud.name,
      dimensions: [{ dimensionName: 'deviceId' }],
    });
    name = op.json.response.name;
    assert.equal((await sendMp(server, p, purchase('after.1'))).status, 204);
    const backdated = BigInt(Date.now() - 600_000) * 1000n;
    assert.equal(
      (await sendMp(server, p, purchase('backdated.1', { timestamp_micros: backdated.toString() }))).status,
      204,
    );
    await waitState(server, name, 'ACTIVE');
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  test('an event acknowledged just before the create call is in the snapshot; one sent after is not', async () => {
    const ids = await deviceIds(server, name);
    assert.ok(ids.includes('before.1'), ids.join(','));
    assert.ok(!ids.includes('after.1'), ids.join(','));
  });

  test('an event acknowledged after the create call is not in the snapshot even when backdated', async () => {
    const ids = await deviceIds(server, name);
    assert.ok(!ids.includes('backdated.1'), ids.join(','));
  });
});

describe('kill -9 while an export is CREATING', () => {
  test('after a restart on the same data folder the export completes with the right rows', async () => {
    let server = await startServer({ env: { AUDEX_TEST_EXPORT_DELAY_MS: '20000' } });
    const dataDir = server.dataDir;
    try {
      const p = await createTestProperty(server);
      for (let i = 0; i < 25; i++) {
        const body =
          i % 2
            ? purchase(`${i}.77`, { user_id: `u${i}` })
            : { client_id: `${i}.77`, events: [{ name: 'page_view' }] };
        assert.equal((await sendMp(server, p, body)).status, 204);
      }
      const aud = await purchasers(server, p.property);
      const op = await api(server, 'POST', `/v1beta/${p.property}/audienceExports`, {
        audience: aud.name,
        dimensions: [{ dimensionName: 'deviceId' }, { dimensionName: 'userId' }],
      });
      const name = op.json.response.name as string;
      // Wait until the runner has it (progress moved), then kill the server mid-creation.
      for (;;) {
        const r = await api(server, 'GET', `/v1beta/${name}`);
        assert.equal(r.json.state, 'CREATING');
        if (r.json.percentageCompleted > 0) break;
        await sleep(100);
      }
      await server.kill();

      server = await startServer({ dataDir });
      const started = Date.now();
      const done = await waitState(server, name, 'ACTIVE', 20_000);
      // The dead process's lease is taken over at once (same host, pid gone), not after 30 s.
      assert.ok(Date.now() - started < 10_000);
      assert.match(server.output(), /"resumed":true/);

      const asOf = rfc3339ToMicros(done.beginCreatingTime)!;
      const events = await allEvents(server, p.property);
      const def = BUILTIN_AUDIENCES.find((b) => b.key === 'purchasers')!.definition;
      const members = membersAt(
        evaluateAudience(def, events, asOf, {
          createTimeMicros: rfc3339ToMicros(aud.createTime)!,
          backfillDays: 30,
          timeZone: 'UTC',
          ignoreEventNamesForAdjacency: [],
        }),
        asOf,
      );
      assert.equal(members.length, 12);
      const attrs = expectedAttributes(events, asOf);
      const client = dataClient(server.port, ADMIN_KEY);
      const [page] = await client.queryAudienceExport({ name });
      assert.equal(page.rowCount, members.length);
      assert.deepEqual(
        page.audienceRows!.map((r) => r.dimensionValues!.map((v) => v.value)),
        members.map((d) => [d, attrs.get(d)!.userId]),
      );
    } finally {
      await server.stop();
      removeDir(dataDir);
    }
  });
});

describe('SIGTERM while an export is CREATING', () => {
  test('the runner hands the job back (lease released) and the next start completes it', async () => {
    let server = await startServer({ env: { AUDEX_TEST_EXPORT_DELAY_MS: '20000' } });
    const dataDir = server.dataDir;
    try {
      const p = await createTestProperty(server);
      assert.equal((await sendMp(server, p, purchase('t.1'))).status, 204);
      const aud = await purchasers(server, p.property);
      const op = await api(server, 'POST', `/v1beta/${p.property}/audienceExports`, {
        audience: aud.name,
        dimensions: [{ dimensionName: 'deviceId' }],
      });
      const name = op.json.response.name as string;
      for (;;) {
        const r = await api(server, 'GET', `/v1beta/${name}`);
        if (r.json.percentageCompleted > 0) break;
        await sleep(100);
      }
      assert.equal(await server.stop(), 0);
      const query = 'SELECT state, lease_owner FROM audience_exports';
      let row: { state: string; lease_owner: string | null };
      const pgUrl = postgresCatalogOf(dataDir);
      if (pgUrl) {
        const { default: pg } = await import('pg');
        const client = new pg.Client({ connectionString: pgUrl });
        await client.connect();
        row = (await client.query(query)).rows[0];
        await client.end();
      } else {
        const { default: SQLite } = await import('better-sqlite3');
        const db = new SQLite(`${dataDir}/catalog.sqlite`, { readonly: true });
        row = db.prepare(query).get() as typeof row;
        db.close();
      }
      assert.deepEqual({ ...row }, { state: 'CREATING', lease_owner: null });
      server = await startServer({ dataDir });
      await waitState(server, name, 'ACTIVE', 20_000);
      assert.deepEqual(await deviceIds(server, name), ['t.1']);
    } finally {
      await server.stop();
      removeDir(dataDir);
    }
  });
});
