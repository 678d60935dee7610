// The data-lifecycle job on an injected clock, over every catalog (SQLite and PostgreSQL) and every
// event engine (test/helpers/backends.ts; the storage objects the server gets from openStorage):
// data retention deletes what the settings say at the next pass and audiences follow the stored
// events (docs/privacy.md); a trashed property is purged with its data once its 35 days are over.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogDb } from '../src/catalog/db.ts';
import { forEachCatalog, type CatalogSlot } from './helpers/catalogs.ts';
import { KeyService } from '../src/auth/keys.ts';
import { AdminService } from '../src/api/service/admin.ts';
import { AudienceService } from '../src/api/service/audiences.ts';
import { forEachBackend } from './helpers/backends.ts';
import type { OpenedStorage } from '../src/storage/index.ts';
import { snapshotIdOf } from '../src/exports/runner.ts';
import { param, sql, render } from '../src/audience/compile/sql.ts';
import { baseEvent } from './helpers/event-fixtures.ts';
import { DataLifecycleJob } from '../src/privacy/lifecycle-job.ts';
import { RetentionSettingsService, monthsBefore } from '../src/privacy/retention.ts';
import { BUILTIN_AUDIENCES } from '../src/audience/validate.ts';
import { silentLogger } from '../src/server/logger.ts';
import type { Principal } from '../src/auth/principal.ts';

const OPERATOR: Principal = { keyId: 0, superuser: true, roles: new Map() };
const DAY = 86_400_000_000;
const NOW = Date.UTC(2026, 5, 1) * 1000; // 2026-06-01, µs

forEachCatalog((testCatalog) =>
  forEachBackend((backend) =>
    describe('data lifecycle job (injected clock)', () => {
      let slot: CatalogSlot;
      let catalog: CatalogDb;
      let storage: OpenedStorage;
      let events: OpenedStorage['events'];
      let admin: AdminService;
      let retention: RetentionSettingsService;
      let job: DataLifecycleJob;
      let clock = NOW;
      let property: string;
      let propertyId: bigint;

      before(async () => {
        slot = await testCatalog.create();
        catalog = await slot.open();
        storage = await backend.open();
        events = storage.events;
        const audiences = new AudienceService(catalog);
        admin = new AdminService(catalog, new KeyService(catalog), (id) => audiences.ensureBuiltins(id));
        retention = new RetentionSettingsService(catalog, () => clock);
        job = new DataLifecycleJob({
          catalog,
          eraser: storage.eraser,
          snapshots: storage.snapshots,
          intervalMs: 3_600_000,
          log: silentLogger,
          now: () => clock,
        });
        property = (await admin.createProperty(OPERATOR, { displayName: 'Shop', timeZone: 'UTC' })).name;
        propertyId = BigInt(property.split('/')[1]!);
        const at = (months: number, days = 0) => BigInt(monthsBefore(NOW, months) - days * DAY);
        const ev = (device: string, name: string, ts: bigint, userId: string | null = null) =>
          baseEvent({
            property_id: propertyId,
            user_pseudo_id: device,
            user_id: userId,
            event_name: name,
            event_timestamp: ts,
            received_at: ts,
            ...(name === 'purchase' ? { event_params: { value: { double_value: 5 } } } : {}),
          });
        await events.append([
          ev('dev.ancient', 'purchase', at(16)),
          ev('dev.old', 'purchase', at(3)),
          ev('dev.mixed', 'purchase', at(5), 'user-mixed'),
          ev('dev.mixed', 'page_view', at(0, 7)),
          ev('dev.new', 'purchase', at(1)),
        ]);
        // DuckDB folds export attributes (its maintenance, the device attribute index): fold them
        // now, so that the test sees them follow the deletions. ClickHouse folds nothing.
        if (backend.name === 'duckdb') await foldAttributes(storage);
      });
      after(async () => {
        await storage?.close();
        await catalog.destroy();
        slot.dispose();
      });

      const devices = async () => {
        const n = new Map<string, number>();
        for (const e of await events.readEvents(propertyId))
          n.set(e.user_pseudo_id, (n.get(e.user_pseudo_id) ?? 0) + 1);
        return [...n].sort(([a], [b]) => (a < b ? -1 : 1)).map(([d, k]) => `${d}:${k}`);
      };

      /** Members of a "purchasers" audience whose membership (540 days) outlives the 2-month retention. */
      const purchasers = async () => {
        const def = BUILTIN_AUDIENCES.find((a) => a.key === 'purchasers')!.definition;
        return storage.audiences.findMembers({
          propertyId,
          audience: { ...def, membershipDurationDays: 540 },
          config: {
            createTimeMicros: BigInt(NOW),
            backfillDays: null,
            timeZone: 'UTC',
            ignoreEventNamesForAdjacency: [],
          },
          asOfMicros: BigInt(clock),
        });
      };

      const update = (eventDataRetention: string, userDataRetention: string, reset: boolean) =>
        retention.update(
          OPERATOR,
          {
            name: `${property}/dataRetentionSettings`,
            eventDataRetention,
            userDataRetention,
            resetUserDataOnNewActivity: reset,
          },
          'event_data_retention,user_data_retention,reset_user_data_on_new_activity',
        );

      test('a property whose settings were never set keeps everything', async () => {
        assert.deepEqual(await retention.get(OPERATOR, `${property}/dataRetentionSettings`), {
          name: `${property}/dataRetentionSettings`,
          eventDataRetention: 'RETENTION_DURATION_UNSPECIFIED',
          userDataRetention: 'RETENTION_DURATION_UNSPECIFIED',
          resetUserDataOnNewActivity: true,
        });
        assert.equal((await job.runPass()).expiredEvents, 0);
        assert.deepEqual(await devices(), ['dev.ancient:1', 'dev.mixed:2', 'dev.new:1', 'dev.old:1']);
        assert.deepEqual(await purchasers(), ['dev.ancient', 'dev.mixed', 'dev.new', 'dev.old']);
      });

      test('14 months: the 16-month-old events go at the next pass, and their user leaves the audience', async () => {
        await update('FOURTEEN_MONTHS', 'FOURTEEN_MONTHS', true);
        assert.deepEqual(
          await devices(),
          ['dev.ancient:1', 'dev.mixed:2', 'dev.new:1', 'dev.old:1'],
          'not before the pass',
        );
        assert.equal((await job.runPass()).expiredEvents, 1);
        assert.deepEqual(await devices(), ['dev.mixed:2', 'dev.new:1', 'dev.old:1']);
        assert.deepEqual(await purchasers(), ['dev.mixed', 'dev.new', 'dev.old']);
      });

      test('user data 2 months with reset on new activity: inactive users go whole, active ones stay whole', async () => {
        await update('FOURTEEN_MONTHS', 'TWO_MONTHS', true);
        assert.equal((await job.runPass()).expiredEvents, 1);
        // dev.old's newest event is 3 months old; dev.mixed was active a week ago, so its 5-month-old
        // purchase stays (and keeps it in the audience).
        assert.deepEqual(await devices(), ['dev.mixed:2', 'dev.new:1']);
        assert.deepEqual(await purchasers(), ['dev.mixed', 'dev.new']);
      });

      test('events 2 months: the old purchase of an active user goes, so does its membership and its user id', async () => {
        await update('TWO_MONTHS', 'TWO_MONTHS', true);
        assert.equal((await job.runPass()).expiredEvents, 1);
        assert.deepEqual(await devices(), ['dev.mixed:1', 'dev.new:1']);
        assert.deepEqual(await purchasers(), ['dev.new'], 'a member whose qualifying events expired leaves');
        if (backend.name === 'duckdb') {
          // DuckDB only: its folded attributes (the device attribute index's table).
          const attrs = await storage.executor.rows(
            render(
              sql`SELECT user_id FROM device_attributes WHERE property_id = ${param(propertyId)} AND device_id = ${param('dev.mixed')}`,
              (i) => `$${i}`,
            ),
          );
          assert.ok(
            attrs.every((r) => r.user_id === null),
            'the user id of the expired event left the folded attributes',
          );
        }
      });

      test('the clock moving on expires more at the next pass', async () => {
        clock = NOW + 40 * DAY;
        assert.equal((await job.runPass()).expiredEvents, 1);
        assert.deepEqual(await devices(), ['dev.mixed:1']);
      });

      test('settings are validated: GA4 values, user data at most 14 months, a required mask', async () => {
        const name = `${property}/dataRetentionSettings`;
        await assert.rejects(
          update('SIX_MONTHS', 'TWO_MONTHS', true),
          /event_data_retention: must be one of/,
        );
        await assert.rejects(
          update('FIFTY_MONTHS', 'FIFTY_MONTHS', true),
          /user_data_retention: must be one of TWO_MONTHS, FOURTEEN_MONTHS/,
        );
        await assert.rejects(
          retention.update(OPERATOR, { name, eventDataRetention: 'TWO_MONTHS' }, ''),
          /update_mask: is required/,
        );
        const ok = await retention.update(OPERATOR, { name, eventDataRetention: 6 }, 'event_data_retention');
        assert.equal(ok.eventDataRetention, 'FIFTY_MONTHS', 'numeric enums are accepted');
      });

      test('a trashed property is purged with its data when its 35 days are over, not before', async () => {
        const trashed = await admin.deleteProperty(OPERATOR, property);
        const deleteTime = Date.parse(trashed.deleteTime!) * 1000;
        // An export of the property with its snapshot table.
        const row = await catalog
          .insertInto('audience_exports')
          .values({
            property_id: Number(propertyId),
            operation_id: 'audienceExport-purge',
            audience: `${property}/audiences/1`,
            audience_display_name: 'x',
            definition: '{}',
            eval_config: '{}',
            dimensions: '["deviceId"]',
            state: 'ACTIVE',
            begin_creating_time: deleteTime,
            as_of: deleteTime,
            max_ingest_seq: 0,
            expire_time: deleteTime + 100 * DAY,
            row_count: 0,
            recurring_id: null,
            recurring_day: null,
            webhook: null,
            error_message: null,
            finish_time: null,
            lease_owner: null,
            lease_expires: null,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        const snapshotId = snapshotIdOf(row.id);
        await storage.snapshots.materialize(snapshotId, {
          propertyId,
          audience: BUILTIN_AUDIENCES.find((a) => a.key === 'all_users')!.definition,
          config: {
            createTimeMicros: BigInt(NOW),
            backfillDays: null,
            timeZone: 'UTC',
            ignoreEventNamesForAdjacency: [],
          },
          asOfMicros: BigInt(clock),
        });
        clock = deleteTime + 34 * DAY;
        assert.deepEqual((await job.runPass()).purgedProperties, []);
        assert.deepEqual(await devices(), ['dev.mixed:1']);
        assert.deepEqual(
          (await storage.snapshots.read(snapshotId, 0, 10)).map((m) => m.deviceId),
          ['dev.mixed'],
          'the snapshot stays until the purge',
        );
        clock = deleteTime + 35 * DAY + 1;
        assert.deepEqual((await job.runPass()).purgedProperties, [Number(propertyId)]);
        assert.deepEqual(await devices(), []);
        const left = await catalog
          .selectFrom('properties')
          .select('id')
          .where('id', '=', Number(propertyId))
          .execute();
        assert.deepEqual(left, []);
        assert.deepEqual(await catalog.selectFrom('audience_exports').select('id').execute(), []);
        await assert.rejects(storage.snapshots.read(snapshotId, 0, 1), Error, 'the snapshot is dropped');
      });
    }),
  ),
);

/** Runs DuckDB's device attribute index (its StorageMaintenance) over every stored event once. */
async function foldAttributes(storage: OpenedStorage): Promise<void> {
  const index = storage.maintenance as Partial<{ catchUp(): Promise<unknown> }>;
  assert.equal(typeof index.catchUp, 'function', "DuckDB's maintenance is the device attribute index");
  await index.catchUp!();
}
