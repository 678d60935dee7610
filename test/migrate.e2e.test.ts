// `audex migrate --from-data … --catalog-url …`: an embedded installation's catalog (SQLite) is
// copied into PostgreSQL with every id kept and the counts checked; the server then runs on the
// PostgreSQL catalog with the same properties, keys, audiences and exports, and new resources get
// new ids. A second migrate into the now used database is refused. With --events-url the events
// are copied into ClickHouse too (a private server, test/helpers/clickhouse-server.ts) with counts
// per property, and the server runs on both shared stores with the same audience members.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, api, removeDir, startServer, tempDataDir } from './helpers/server.ts';
import { createTestProperty, sendMp } from './helpers/property.ts';
import { createExportAndWait } from './helpers/exports.ts';
import { runCli } from './helpers/cli.ts';
import { usePostgres } from './helpers/postgres-server.ts';
import { freshDatabaseName, sharedClickHouse } from './helpers/clickhouse-server.ts';

const pg = usePostgres();

describe('audex migrate', () => {
  test('copies the catalog into PostgreSQL: counts match, names and keys keep working', async () => {
    const dataDir = tempDataDir('audex-migrate-');
    // The source runs on its embedded SQLite catalog whatever AUDEX_TEST_CATALOG says.
    let server = await startServer({ dataDir, env: { AUDEX_CATALOG_URL: '' } });
    try {
      const p = await createTestProperty(server);
      for (let i = 0; i < 5; i++) {
        const r = await sendMp(server, p, {
          client_id: `${i}.1700000000`,
          events: [{ name: 'purchase', params: { value: 1, currency: 'EUR', transaction_id: `T${i}` } }],
        });
        assert.equal(r.status, 204);
      }
      const key = await api(server, 'POST', '/audex/v1/keys', {
        displayName: 'viewer',
        bindings: [{ property: p.property, role: 'viewer' }],
      });
      assert.equal(key.status, 200, JSON.stringify(key.json));
      const audiences = (await api(server, 'GET', `/v1alpha/${p.property}/audiences`)).json
        .audiences as any[];
      const purchasers = audiences.find((a) => a.displayName === 'Purchasers').name as string;
      const exp = await createExportAndWait(server, p.property, purchasers, ['deviceId']);
      assert.equal(exp.rowCount, 5);
      assert.equal(await server.stop(), 0);

      const url = await pg.server.createDatabase('audex_migrate');
      const moved = await runCli(['migrate', '--from-data', dataDir, '--catalog-url', url]);
      assert.equal(moved.code, 0, moved.stderr + moved.stdout);
      assert.match(moved.stdout, /^catalog:$/m);
      assert.match(moved.stdout, /^ {2}properties +1 → 1 +ok$/m);
      assert.match(moved.stdout, /^ {2}audiences +2 → 2 +ok$/m);
      assert.match(moved.stdout, /^ {2}audience_exports +1 → 1 +ok$/m);
      assert.match(moved.stdout, /^ {2}api_keys +2 → 2 +ok$/m);
      assert.match(moved.stdout, /every count matches/);

      server = await startServer({ dataDir, args: ['--catalog-url', url] });
      // The same names, the same keys.
      const got = await api(server, 'GET', `/v1beta/${exp.name}`, undefined, key.json.key);
      assert.equal(got.status, 200, JSON.stringify(got.json));
      assert.equal(got.json.state, 'ACTIVE');
      assert.equal(got.json.rowCount, 5);
      const rows = await api(server, 'POST', `/v1beta/${exp.name}:query`, {}, key.json.key);
      assert.equal(rows.json.audienceRows.length, 5);
      // New resources continue after the copied ids.
      const q = await api(server, 'POST', '/v1beta/properties', { displayName: 'Second', timeZone: 'UTC' });
      assert.equal(q.status, 200, JSON.stringify(q.json));
      assert.ok(Number(q.json.name.split('/')[1]) > p.propertyId, q.json.name);
      assert.equal(await server.stop(), 0);

      const again = await runCli(['migrate', '--from-data', dataDir, '--catalog-url', url]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^audex: the target catalog is not empty \(table properties has rows\)/);
      const notData = await runCli([
        'migrate',
        '--from-data',
        tempDataDir('audex-empty-'),
        '--catalog-url',
        url,
      ]);
      assert.equal(notData.code, 1);
      assert.match(notData.stderr, /is not an audex data folder/);
    } finally {
      await server.stop();
      removeDir(dataDir);
    }
  });

  test('--events-url: the events into ClickHouse, counts per property, same members after', async () => {
    const dataDir = tempDataDir('audex-migrate-ev-');
    let server = await startServer({ dataDir, env: { AUDEX_CATALOG_URL: '' } });
    try {
      const p = await createTestProperty(server);
      for (let i = 0; i < 12; i++) {
        const r = await sendMp(server, p, {
          client_id: `${i}.1700000000`,
          events: [
            { name: 'page_view', params: { page_location: 'https://example.com/' } },
            ...(i % 3 === 0
              ? [{ name: 'purchase', params: { value: 5, currency: 'EUR', transaction_id: `T${i}` } }]
              : []),
          ],
        });
        assert.equal(r.status, 204);
      }
      const purchasers = (
        (await api(server, 'GET', `/v1alpha/${p.property}/audiences`)).json.audiences as any[]
      ).find((a) => a.displayName === 'Purchasers').name as string;
      const before = await createExportAndWait(server, p.property, purchasers, ['deviceId', 'userId']);
      assert.equal(before.rowCount, 4);
      const rowsBefore = (await api(server, 'POST', `/v1beta/${before.name}:query`, {})).json.audienceRows;
      // An import by id: its ledger entry must move too, so a retry after the move stores nothing.
      const importRows = `${JSON.stringify({ event_name: 'page_view', event_timestamp: String(BigInt(Date.now() - 60_000) * 1000n), user_pseudo_id: 'imp.1' })}\n`;
      const importOnce = () =>
        fetch(`${server.url}/audex/v1/${p.property}:import?importId=moved-1`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/x-ndjson' },
          body: importRows,
        });
      const imported = await importOnce();
      assert.equal(imported.status, 200, await imported.text());
      assert.equal(await server.stop(), 0);

      const catalogUrl = await pg.server.createDatabase('audex_migrate_ev');
      const eventsUrl = (await sharedClickHouse()).eventsUrl(freshDatabaseName('audex_migrate'));
      const args = ['--catalog-url', catalogUrl, '--events-url', eventsUrl];
      const moved = await runCli(['migrate', '--from-data', dataDir, ...args]);
      assert.equal(moved.code, 0, moved.stderr + moved.stdout);
      assert.match(moved.stdout, /^events:$/m);
      assert.match(moved.stdout, new RegExp(`^ {2}events \\(${p.property}\\) +17 → 17 +ok$`, 'm'));
      assert.match(moved.stdout, /^ {2}import ledger +1 → 1 +ok$/m);
      assert.match(moved.stdout, /^export snapshots:$/m);
      assert.match(
        moved.stdout,
        new RegExp(`^ {2}snapshot of audience export ${before.name.split('/').pop()} +4 → 4 +ok$`, 'm'),
      );
      assert.match(moved.stdout, /every count matches/);

      server = await startServer({ dataDir, args });
      // The export made before the move still answers, with the same rows.
      const rowsAfter = await api(server, 'POST', `/v1beta/${before.name}:query`, {});
      assert.equal(rowsAfter.status, 200, JSON.stringify(rowsAfter.json));
      assert.deepEqual(rowsAfter.json.audienceRows, rowsBefore);
      const retried = await importOnce();
      assert.equal(retried.status, 200, await retried.text());
      const after = await createExportAndWait(server, p.property, purchasers, ['deviceId']);
      assert.equal(after.rowCount, 4, 'the same members from the copied events');
      // Collection goes on into ClickHouse after the copied events.
      const r = await sendMp(server, p, {
        client_id: '99.1700000000',
        events: [{ name: 'purchase', params: { value: 5, currency: 'EUR', transaction_id: 'T99' } }],
      });
      assert.equal(r.status, 204);
      const more = await createExportAndWait(server, p.property, purchasers, ['deviceId']);
      assert.equal(more.rowCount, 5);
      assert.equal(await server.stop(), 0);

      const again = await runCli(['migrate', '--from-data', dataDir, '--events-url', eventsUrl]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^audex: the ClickHouse database of --events-url already holds 18 events/);
    } finally {
      await server.stop();
      removeDir(dataDir);
      await (await sharedClickHouse()).stop();
    }
  });
});
