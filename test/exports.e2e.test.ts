// Audience exports (Data API v1beta) end to end: `audex serve` started as a user starts it, events
// sent through /mp/collect, and the official @google-analytics/data client in REST mode used the
// way Google's guide uses it. Rows are checked against the reference evaluator.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { protos } from '@google-analytics/data';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';
import { dataClient } from './helpers/clients.ts';
import { allEvents, expectedAttributes } from './helpers/exports.ts';
import { evaluateAudience, membersAt } from '../src/audience/reference/evaluate.ts';
import { BUILTIN_AUDIENCES } from '../src/audience/validate.ts';
import { rfc3339ToMicros } from '../src/domain/time.ts';

const DIMS = ['deviceId', 'userId', 'isAdsPersonalizationAllowed', 'isLimitedAdTracking'] as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function audienceNamed(server: RunningServer, property: string, displayName: string) {
  const list = (await api(server, 'GET', `/v1alpha/${property}/audiences`)).json.audiences as any[];
  return list.find((a) => a.displayName === displayName) as { name: string; createTime: string };
}

/** ~40 devices: purchasers and not, user ids that change, consent and NPA signals. */
async function sendTraffic(server: RunningServer, p: TestProperty, n = 40): Promise<void> {
  const base = BigInt(Date.now() - 3_600_000) * 1000n;
  for (let i = 0; i < n; i++) {
    const clientId = `${i * 7919}.${1700000000 + i}`;
    if (i % 4 === 0) {
      const r = await sendMp(server, p, {
        client_id: clientId,
        user_id: `old-${i}`,
        timestamp_micros: (base - 60_000_000n).toString(),
        events: [{ name: 'page_view', params: {} }],
      });
      assert.equal(r.status, 204);
    }
    const r = await sendMp(server, p, {
      client_id: clientId,
      ...(i % 2 === 0 ? { user_id: `user-${i}` } : {}),
      ...(i % 5 === 0 ? { consent: { ad_personalization: 'DENIED' } } : {}),
      ...(i % 5 === 1 ? { consent: { ad_personalization: 'GRANTED' } } : {}),
      ...(i % 7 === 0 ? { non_personalized_ads: true } : {}),
      timestamp_micros: (base + BigInt(i) * 1000n).toString(),
      events: [
        i % 3 === 0
          ? { name: 'page_view', params: {} }
          : { name: 'purchase', params: { value: 10 + i, currency: 'EUR', transaction_id: `T${i}` } },
      ],
    });
    assert.equal(r.status, 204);
  }
}

/** The rows the reference evaluator and the attribute rules give for an export created at asOf. */
async function expectedRows(
  server: RunningServer,
  p: TestProperty,
  key: 'all_users' | 'purchasers',
  audience: { createTime: string },
  asOf: bigint,
): Promise<string[][]> {
  const events = await allEvents(server, p.property);
  const def = BUILTIN_AUDIENCES.find((b) => b.key === key)!.definition;
  const result = evaluateAudience(def, events, asOf, {
    createTimeMicros: rfc3339ToMicros(audience.createTime)!,
    backfillDays: 30,
    timeZone: 'UTC',
    ignoreEventNamesForAdjacency: [],
  });
  const attrs = expectedAttributes(events, asOf);
  return membersAt(result, asOf).map((d) => DIMS.map((dim) => attrs.get(d)![dim]!));
}

describe('audience exports with the official data client', () => {
  let server: RunningServer;
  let p: TestProperty;
  before(async () => {
    server = await startServer({ env: { AUDEX_TEST_EXPORT_DELAY_MS: '600' } });
    p = await createTestProperty(server);
    await sendTraffic(server, p);
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  test('create, poll get until ACTIVE, query page by page: rows equal the reference members', async () => {
    const client = dataClient(server.port, ADMIN_KEY);
    const purchasers = await audienceNamed(server, p.property, 'Purchasers');
    const [operation] = await client.createAudienceExport({
      parent: p.property,
      audienceExport: {
        audience: purchasers.name,
        dimensions: DIMS.map((dimensionName) => ({ dimensionName })),
      },
    });
    // The create response carries the export (CREATING) in `response`; with done:false gax leaves
    // it packed, so a user decodes the Any with the client's own protos to learn its name.
    const packed = operation.latestResponse.response!;
    assert.equal(packed.type_url, 'type.googleapis.com/google.analytics.data.v1beta.AudienceExport');
    const created = protos.google.analytics.data.v1beta.AudienceExport.decode(packed.value as Uint8Array);
    assert.match(created.name, new RegExp(`^${p.property}/audienceExports/\\d+$`));
    assert.equal(created.state, protos.google.analytics.data.v1beta.AudienceExport.State.CREATING);
    assert.equal(created.audienceDisplayName, 'Purchasers');

    // Poll get until ACTIVE; percentageCompleted moves while CREATING.
    const seen: number[] = [];
    let [exp] = await client.getAudienceExport({ name: created.name });
    for (let i = 0; i < 200 && exp.state === 'CREATING'; i++) {
      seen.push(exp.percentageCompleted!);
      await sleep(50);
      [exp] = await client.getAudienceExport({ name: created.name });
    }
    assert.equal(exp.state, 'ACTIVE');
    assert.ok(seen.length > 1 && seen.some((v) => v > 0), `progress seen: ${seen.join(',')}`);
    assert.equal(exp.percentageCompleted, 100);
    assert.ok(exp.creationQuotaTokensCharged! >= 1);

    const asOf = rfc3339ToMicros(
      (await api(server, 'GET', `/v1beta/${created.name}`)).json.beginCreatingTime,
    )!;
    const expected = await expectedRows(server, p, 'purchasers', purchasers, asOf);
    assert.ok(expected.length > 20, `expected members: ${expected.length}`);
    assert.equal(exp.rowCount, expected.length);

    const rows: string[][] = [];
    for (let offset = 0; ; offset += 7) {
      const [page] = await client.queryAudienceExport({ name: created.name, offset, limit: 7 });
      assert.equal(page.rowCount, expected.length);
      assert.deepEqual(
        page.audienceExport!.dimensions!.map((d) => d.dimensionName),
        [...DIMS],
      );
      if (page.audienceRows!.length === 0) break;
      assert.ok(page.audienceRows!.length <= 7);
      rows.push(...page.audienceRows!.map((r) => r.dimensionValues!.map((v) => v.value!)));
    }
    assert.deepEqual(rows, expected);
    // Default limit (10,000) returns everything in one page.
    const [all] = await client.queryAudienceExport({ name: created.name });
    assert.equal(all.audienceRows!.length, expected.length);
  });

  test('operation.promise() resolves to the ACTIVE export (GetOperation at /v1/operations/*)', async () => {
    const client = dataClient(server.port, ADMIN_KEY);
    const allUsers = await audienceNamed(server, p.property, 'All Users');
    const [operation] = await client.createAudienceExport({
      parent: p.property,
      audienceExport: { audience: allUsers.name, dimensions: [{ dimensionName: 'deviceId' }] },
    });
    assert.match(operation.name!, /^operations\//);
    const [done] = await operation.promise();
    assert.equal(done.state, protos.google.analytics.data.v1beta.AudienceExport.State.ACTIVE);
    assert.match(done.name!, /audienceExports\/\d+$/);
    const asOf = rfc3339ToMicros((await api(server, 'GET', `/v1beta/${done.name}`)).json.beginCreatingTime)!;
    const expected = await expectedRows(server, p, 'all_users', allUsers, asOf);
    assert.equal(done.rowCount, expected.length);
    const [page] = await client.queryAudienceExport({ name: done.name!, limit: 1000 });
    assert.deepEqual(
      page.audienceRows!.map((r) => r.dimensionValues![0]!.value),
      expected.map((r) => r[0]),
    );
    // checkCreateAudienceExportProgress works on the operation name too.
    const checked = await client.checkCreateAudienceExportProgress(operation.name!);
    assert.equal(checked.done, true);
  });

  test('listAudienceExports: newest first, pages with tokens, the async iterator reads them all', async () => {
    const client = dataClient(server.port, ADMIN_KEY);
    const purchasers = await audienceNamed(server, p.property, 'Purchasers');
    for (let i = 0; i < 3; i++) {
      await client.createAudienceExport({
        parent: p.property,
        audienceExport: { audience: purchasers.name, dimensions: [{ dimensionName: 'userId' }] },
      });
    }
    const [page1, next, raw] = await client.listAudienceExports(
      { parent: p.property, pageSize: 2 },
      { autoPaginate: false },
    );
    assert.equal(page1.length, 2);
    assert.ok(next?.pageToken);
    assert.ok(raw?.nextPageToken);
    const ids = (names: (string | null | undefined)[]) => names.map((n) => Number(n!.split('/').pop()));
    const all: string[] = [];
    // The async iterator pages by itself; autoPaginate: false says so (else gax warns).
    for await (const e of client.listAudienceExportsAsync(
      { parent: p.property, pageSize: 2 },
      { autoPaginate: false },
    ))
      all.push(e.name!);
    assert.ok(all.length >= 5);
    const sorted = [...ids(all)].sort((a, b) => b - a);
    assert.deepEqual(ids(all), sorted, 'newest first');
    assert.deepEqual(ids(page1.map((e) => e.name)), sorted.slice(0, 2));
    // Every state is listed; the last page has no nextPageToken.
    const last = await api(server, 'GET', `/v1beta/${p.property}/audienceExports?pageSize=1000`);
    assert.equal(last.status, 200);
    assert.equal(last.json.nextPageToken, undefined);
    assert.equal(last.json.audienceExports.length, all.length);
    // A token is bound to its query.
    const other = await api(
      server,
      'GET',
      `/v1beta/properties/999/audienceExports?pageToken=${next.pageToken}`,
    );
    assert.equal(other.status, 400);
  });

  test('wire shapes: enum numbers with $alt, names without; int64 strings and numbers; output-only input ignored', async () => {
    const purchasers = await audienceNamed(server, p.property, 'Purchasers');
    const created = await api(
      server,
      'POST',
      `/v1beta/${p.property}/audienceExports?$alt=json%3Benum-encoding=int`,
      {
        audience: purchasers.name,
        dimensions: [{ dimensionName: 'deviceId' }],
        state: 2,
        rowCount: 99,
        name: 'properties/1/audienceExports/12345',
        errorMessage: 'x',
        percentageCompleted: 100,
        creationQuotaTokensCharged: 7,
      },
    );
    assert.equal(created.status, 200);
    const op = created.json;
    assert.match(op.name, /^operations\/properties\/\d+\/operations\/audienceExport-/);
    assert.equal(op.done, false);
    assert.deepEqual(op.metadata, {
      '@type': 'type.googleapis.com/google.analytics.data.v1beta.AudienceExportMetadata',
    });
    assert.equal(op.response['@type'], 'type.googleapis.com/google.analytics.data.v1beta.AudienceExport');
    assert.equal(op.response.state, 1);
    assert.notEqual(op.response.name, 'properties/1/audienceExports/12345');
    assert.equal(op.response.rowCount, undefined);
    assert.equal(op.response.errorMessage, undefined);
    assert.equal(op.response.percentageCompleted, 0);
    assert.equal(op.response.creationQuotaTokensCharged, 1);
    assert.match(
      op.response.beginCreatingTime,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$/,
    );
    const name = op.response.name as string;
    let got = await api(server, 'GET', `/v1beta/${name}`);
    for (let i = 0; i < 200 && got.json.state === 'CREATING'; i++) {
      await sleep(50);
      got = await api(server, 'GET', `/v1beta/${name}`);
    }
    assert.equal(got.json.state, 'ACTIVE');
    const polled = await api(server, 'GET', `/v1/${op.name}`);
    assert.equal(polled.json.done, true);
    assert.equal(polled.json.response.state, 'ACTIVE');
    const total = got.json.rowCount as number;
    assert.equal(typeof total, 'number');
    const q1 = await api(server, 'POST', `/v1beta/${name}:query`, { offset: '1', limit: '2' });
    const q2 = await api(server, 'POST', `/v1beta/${name}:query`, { offset: 1, limit: 2 });
    assert.equal(q1.status, 200);
    assert.deepEqual(q1.json, q2.json);
    assert.equal(q1.json.audienceRows.length, Math.min(2, total - 1));
    assert.equal(q1.json.rowCount, total);
    const beyond = await api(server, 'POST', `/v1beta/${name}:query`, {
      offset: '9000000000000',
      limit: '5',
    });
    assert.equal(beyond.status, 200);
    assert.deepEqual(beyond.json.audienceRows, []);
    assert.equal(beyond.json.rowCount, total);
  });
});
