// Data API v1alpha audience lists and recurring audience lists end to end, with the official
// AlphaAnalyticsDataClient in REST and in gRPC mode against `audex serve`. Lists run on the
// v1beta export machinery, so their rows must equal the v1beta export of the same audience.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { protos } from '@google-analytics/data';
import {
  ADMIN_KEY,
  api,
  postgresCatalogOf,
  removeDir,
  startServer,
  type RunningServer,
} from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';
import { alphaDataClient, alphaDataGrpcClient, dataClient, grpcCall } from './helpers/clients.ts';

const DIMS = ['deviceId', 'userId', 'isAdsPersonalizationAllowed', 'isLimitedAdTracking'];
const dimensions = DIMS.map((dimensionName) => ({ dimensionName }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const AudienceList = protos.google.analytics.data.v1alpha.AudienceList;

describe('v1alpha audience lists with the official AlphaAnalyticsDataClient', () => {
  let server: RunningServer;
  let p: TestProperty;
  let purchasers: string;
  let exportRows: string[][];
  before(async () => {
    server = await startServer({
      env: { AUDEX_TEST_EXPORT_DELAY_MS: '300', AUDEX_RECURRING_TICK_MS: '200' },
    });
    p = await createTestProperty(server);
    for (let i = 0; i < 30; i++) {
      const r = await sendMp(server, p, {
        client_id: `${2000 + i}.1700000000`,
        ...(i % 3 === 0 ? { user_id: `u${i}` } : {}),
        ...(i % 4 === 0 ? { consent: { ad_personalization: 'DENIED' } } : {}),
        events: [{ name: i % 2 ? 'purchase' : 'page_view', params: { value: i } }],
      });
      assert.equal(r.status, 204);
    }
    const audiences = (await api(server, 'GET', `/v1alpha/${p.property}/audiences`)).json.audiences as {
      name: string;
      displayName: string;
    }[];
    purchasers = audiences.find((a) => a.displayName === 'Purchasers')!.name;
    // The v1beta export of the same audience and dimensions: what every list must return.
    const beta = dataClient(server.port, ADMIN_KEY);
    const [op] = await beta.createAudienceExport({
      parent: p.property,
      audienceExport: { audience: purchasers, dimensions },
    });
    const [exp] = await op.promise();
    const [page] = await beta.queryAudienceExport({ name: exp.name! });
    exportRows = page.audienceRows!.map((r) => r.dimensionValues!.map((v) => v.value!));
    assert.equal(exportRows.length, 15);
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  for (const mode of ['REST', 'gRPC'] as const) {
    const client = () =>
      mode === 'REST' ? alphaDataClient(server.port, ADMIN_KEY) : alphaDataGrpcClient(server.grpcPort);
    const call = () => (mode === 'REST' ? {} : grpcCall(ADMIN_KEY));

    test(`${mode}: create (LRO), get, list and query; rows equal the v1beta export`, async () => {
      const c = client();
      const [operation] = await c.createAudienceList(
        { parent: p.property, audienceList: { audience: purchasers, dimensions } },
        call(),
      );
      assert.match(operation.name!, /^operations\/properties\/\d+\/operations\/audienceList-/);
      const packed = operation.latestResponse.response!;
      assert.equal(packed.type_url, 'type.googleapis.com/google.analytics.data.v1alpha.AudienceList');
      const created = AudienceList.decode(packed.value as Uint8Array);
      assert.match(created.name, new RegExp(`^${p.property}/audienceLists/\\d+$`));
      assert.equal(created.state, AudienceList.State.CREATING);
      assert.equal(created.audienceDisplayName, 'Purchasers');

      // GetOperation resolves list operations too (operation.promise() polls it).
      const [done] = await operation.promise();
      assert.equal(done.name, created.name);
      assert.ok(done.state === AudienceList.State.ACTIVE || done.state === 'ACTIVE');

      const [list] = await c.getAudienceList({ name: created.name }, call());
      assert.equal(list.state, 'ACTIVE');
      assert.equal(list.percentageCompleted, 100);
      assert.equal(list.rowCount, exportRows.length);
      assert.ok(!list.recurringAudienceList, 'a list created directly has no recurring list');
      assert.deepEqual(
        list.dimensions!.map((d) => d.dimensionName),
        DIMS,
      );

      const rows: string[][] = [];
      for (let offset = 0; ; offset += 4) {
        const [page] = await c.queryAudienceList({ name: created.name, offset, limit: 4 }, call());
        assert.equal(page.rowCount, exportRows.length);
        assert.equal(page.audienceList!.name, created.name);
        if (page.audienceRows!.length === 0) break;
        rows.push(...page.audienceRows!.map((r) => r.dimensionValues!.map((v) => v.value!)));
      }
      assert.deepEqual(rows, exportRows);

      const names: string[] = [];
      // The async iterator pages by itself; autoPaginate: false says so (else gax warns).
      for await (const l of c.listAudienceListsAsync(
        { parent: p.property, pageSize: 1 },
        { ...call(), autoPaginate: false },
      ))
        names.push(l.name!);
      assert.equal(names[0], created.name, 'newest first');
      assert.ok(
        names.every((n) => n.includes('/audienceLists/')),
        'exports are not listed as lists',
      );
    });

    test(`${mode}: recurring lists: coercion, the first list made at once, listing`, async () => {
      const c = client();
      const [rec] = await c.createRecurringAudienceList(
        {
          parent: p.property,
          recurringAudienceList: { audience: purchasers, dimensions, activeDaysRemaining: 99 },
        },
        call(),
      );
      assert.match(rec.name!, new RegExp(`^${p.property}/recurringAudienceLists/\\d+$`));
      assert.equal(rec.audienceDisplayName, 'Purchasers');
      // 99 is coerced to 30. The first list is made during the create call; its day counts when
      // the day ends, so the response shows the coerced value itself (spec data-api.md §3.2).
      assert.equal(rec.activeDaysRemaining, 30);
      assert.equal(rec.audienceLists!.length, 1);
      const [first] = await c.getAudienceList({ name: rec.audienceLists![0]! }, call());
      assert.equal(first.recurringAudienceList, rec.name);
      assert.equal(first.audience, purchasers);

      const [dflt] = await c.createRecurringAudienceList(
        { parent: p.property, recurringAudienceList: { audience: purchasers, dimensions } },
        call(),
      );
      assert.equal(dflt.activeDaysRemaining, 14, 'default 14');
      // The minimum at creation is 1; the field has presence, so an explicit 0 is refused too.
      for (const activeDaysRemaining of [-1, 0])
        await assert.rejects(
          c.createRecurringAudienceList(
            {
              parent: p.property,
              recurringAudienceList: { audience: purchasers, dimensions, activeDaysRemaining },
            },
            call(),
          ),
          (e: { code: number; message: string }) =>
            e.code === 3 && /active_days_remaining.*at least 1/.test(e.message),
        );

      const [got] = await c.getRecurringAudienceList({ name: rec.name! }, call());
      assert.deepEqual(got.audienceLists, rec.audienceLists);
      const listed: string[] = [];
      for await (const r of c.listRecurringAudienceListsAsync(
        { parent: p.property, pageSize: 1 },
        { ...call(), autoPaginate: false },
      ))
        listed.push(r.name!);
      assert.deepEqual(listed.slice(0, 2), [dflt.name, rec.name], 'newest first across one-item pages');

      // Wait for the first list, then query it: same rows as the v1beta export.
      for (
        let i = 0;
        i < 100 && (await c.getAudienceList({ name: first.name! }, call()))[0].state !== 'ACTIVE';
        i++
      )
        await sleep(50);
      const [page] = await c.queryAudienceList({ name: first.name! }, call());
      assert.deepEqual(
        page.audienceRows!.map((r) => r.dimensionValues!.map((v) => v.value!)),
        exportRows,
      );
    });
  }

  test('audienceLists is newest first once a second day has ended', async () => {
    const c = alphaDataClient(server.port, ADMIN_KEY);
    const [rec] = await c.createRecurringAudienceList({
      parent: p.property,
      recurringAudienceList: { audience: purchasers, dimensions, activeDaysRemaining: 3 },
    });
    assert.equal(rec.audienceLists!.length, 1);
    // Pretend the first list was made a day earlier: the day that ended last night is then due,
    // and the scheduler (ticking every 200 ms here) makes its list.
    const id = Number(rec.name!.split('/').pop());
    const pgUrl = postgresCatalogOf(server.dataDir);
    if (pgUrl) {
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      try {
        const dayBefore = "to_char(CAST(%s AS date) - 1, 'YYYY-MM-DD')";
        await client.query(
          `UPDATE recurring_list_days SET day = ${dayBefore.replace('%s', 'day')} WHERE recurring_id = $1`,
          [id],
        );
        await client.query(
          `UPDATE audience_exports SET recurring_day = ${dayBefore.replace('%s', 'recurring_day')} WHERE recurring_id = $1`,
          [id],
        );
      } finally {
        await client.end();
      }
    } else {
      const db = new Database(join(server.dataDir, 'catalog.sqlite'));
      try {
        db.pragma('busy_timeout = 5000');
        db.prepare("UPDATE recurring_list_days SET day = date(day, '-1 day') WHERE recurring_id = ?").run(id);
        // (and on the list row, which makes the scheduler's createList idempotent per day)
        db.prepare(
          "UPDATE audience_exports SET recurring_day = date(recurring_day, '-1 day') WHERE recurring_id = ?",
        ).run(id);
      } finally {
        db.close();
      }
    }
    let got = rec;
    for (let i = 0; i < 100 && got.audienceLists!.length < 2; i++) {
      await sleep(100);
      [got] = await c.getRecurringAudienceList({ name: rec.name! });
    }
    assert.equal(got.audienceLists!.length, 2);
    assert.equal(got.audienceLists![1], rec.audienceLists![0]);
    assert.ok(
      Number(got.audienceLists![0]!.split('/').pop()) > Number(got.audienceLists![1]!.split('/').pop()),
      'newest first',
    );
    // Three days, one ended (the earlier list's), today's list made: 3 - 2 + 1.
    assert.equal(got.activeDaysRemaining, 2);
    const [second] = await c.getAudienceList({ name: got.audienceLists![0]! });
    assert.equal(second.recurringAudienceList, rec.name);
  });

  test('lists and exports are separate collections; GetOperation knows both', async () => {
    const exports = (await api(server, 'GET', `/v1beta/${p.property}/audienceExports`)).json.audienceExports;
    const exportId = (exports[0].name as string).split('/').pop();
    const r = await api(server, 'GET', `/v1alpha/${p.property}/audienceLists/${exportId}`);
    assert.equal(r.status, 404);
    const created = await api(server, 'POST', `/v1alpha/${p.property}/audienceLists`, {
      audience: purchasers,
      dimensions: [{ dimensionName: 'deviceId' }],
    });
    assert.equal(created.status, 200);
    assert.equal(
      created.json.metadata['@type'],
      'type.googleapis.com/google.analytics.data.v1alpha.AudienceListMetadata',
    );
    const op = await api(server, 'GET', `/v1/${created.json.name}`);
    assert.equal(op.status, 200);
    assert.equal(op.json.response.name, created.json.response.name);
    const bad = await api(server, 'POST', `/v1alpha/${p.property}/audienceLists`, {
      audience: purchasers,
      dimensions: [{ dimensionName: 'deviceId' }],
      webhookNotification: { uri: 'http://127.0.0.1:1/hook' },
    });
    assert.equal(bad.status, 400, 'plain-HTTP webhooks need AUDEX_ALLOW_HTTP_WEBHOOKS');
    assert.match(bad.json.error.message, /audience_list\.webhook_notification\.uri/);
  });
});
