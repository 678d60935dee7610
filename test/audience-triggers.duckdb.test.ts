// The trigger logger's idempotency rule and crash safety (src/audience/triggers/logger.ts) on every
// event engine (test/helpers/backends.ts: its events, executor and trigger progress store) with a
// SQLite catalog, without the HTTP server.
// Run one engine: AUDEX_TEST_BACKENDS=clickhouse npm test -- test/audience-triggers.duckdb.test.ts
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCatalog, type CatalogDb } from '../src/catalog/db.ts';
import type { OpenedStorage } from '../src/storage/index.ts';
import { forEachBackend } from './helpers/backends.ts';
import { baseEvent } from './helpers/event-fixtures.ts';
import type { NewEvent, StoredEvent } from '../src/domain/event.ts';
import type { TriggerEvent } from '../src/audience/reference/evaluate.ts';
import { AudienceTriggerLogger, triggerEventsToStore } from '../src/audience/triggers/logger.ts';
import { E1, E12, E4 } from '../src/audience/fixtures/examples.ts';
import { planAudience } from '../src/audience/compile/index.ts';
import { evaluateUser } from '../src/audience/reference/evaluate.ts';
import type { AudienceDefinition } from '../src/domain/audience.ts';
import { parseAudience } from '../src/audience/validate.ts';

const MIN = 60_000_000n;
const T0 = 1_780_000_000_000_000n; // the audience's createTime
const silent = { info: () => undefined, error: () => undefined };

function purchase(user: string, at: bigint, value: number, session = 1n): NewEvent {
  return baseEvent({
    event_name: 'purchase',
    user_pseudo_id: user,
    user_id: `id-${user}`,
    event_timestamp: at,
    ga_session_id: session,
    ga_session_number: 1,
    ecommerce_purchase_revenue: value,
    event_params: { value: { double_value: value } },
  });
}

describe('triggerEventsToStore', () => {
  const stored = (seq: bigint, over: Partial<StoredEvent>): StoredEvent => ({
    ...purchase('u', 0n, 1),
    ingest_seq: seq,
    ...over,
  });
  const q1 = stored(1n, { event_timestamp: 100n });
  const q2 = stored(2n, { event_timestamp: 100n, ga_session_id: 2n });
  const q3 = stored(3n, { event_timestamp: 200n });
  const trig = (q: StoredEvent): TriggerEvent => ({
    userPseudoId: 'u',
    userId: q.user_id,
    eventName: 'became_high_value',
    timestamp: q.event_timestamp,
    gaSessionId: q.ga_session_id,
    gaSessionNumber: q.ga_session_number,
    qualifyingIngestSeq: q.ingest_seq,
    logCondition: 'AUDIENCE_MEMBERSHIP_RENEWED',
  });
  const storedTrigger = (seq: bigint, at: bigint, audienceId: bigint): StoredEvent =>
    stored(seq, {
      source: 'audience_trigger',
      event_name: 'became_high_value',
      event_timestamp: at,
      event_params: { audience_id: { int_value: audienceId }, audience_name: { string_value: 'x' } },
    });
  const plan = (userEvents: StoredEvent[], fromSeq: bigint | null = null) =>
    triggerEventsToStore({
      propertyId: 1n,
      audienceId: 7,
      audienceName: 'High value',
      userEvents,
      triggers: [trig(q1), trig(q2), trig(q3)],
      fromSeq,
      receivedAt: 999n,
    });

  test('nothing stored yet: every trigger, with the qualifying event’s metadata', () => {
    const out = plan([q1, q2, q3]);
    assert.deepEqual(
      out.map((e) => [e.event_timestamp, e.ga_session_id, e.source, e.event_params.audience_id]),
      [
        [100n, 1n, 'audience_trigger', { int_value: 7n }],
        [100n, 2n, 'audience_trigger', { int_value: 7n }],
        [200n, 1n, 'audience_trigger', { int_value: 7n }],
      ],
    );
    assert.deepEqual(out[0]!.event_params.audience_name, { string_value: 'High value' });
    assert.equal(out[0]!.user_id, 'id-u');
    assert.equal(out[0]!.received_at, 999n);
  });

  test('each stored trigger of the same audience cancels one planned trigger at its timestamp', () => {
    assert.equal(plan([q1, q2, q3, storedTrigger(10n, 100n, 7n)]).length, 2);
    assert.deepEqual(
      plan([q1, q2, q3, storedTrigger(10n, 100n, 7n), storedTrigger(11n, 100n, 7n)]).map(
        (e) => e.event_timestamp,
      ),
      [200n],
    );
    assert.deepEqual(
      plan([
        q1,
        q2,
        q3,
        storedTrigger(10n, 100n, 7n),
        storedTrigger(11n, 100n, 7n),
        storedTrigger(12n, 200n, 7n),
      ]),
      [],
    );
    // Another audience's trigger events do not count.
    assert.equal(plan([q1, q2, q3, storedTrigger(10n, 100n, 8n), storedTrigger(11n, 200n, 8n)]).length, 3);
  });

  test('fromSeq: only qualifying events ingested after it', () => {
    assert.deepEqual(
      plan([q1, q2, q3], 2n).map((e) => e.event_timestamp),
      [200n],
    );
  });
});

forEachBackend((backend) =>
  describe('AudienceTriggerLogger', () => {
    // Cases that pin DuckDB's pass plan (the gate, triggers taken straight from SQL, how many users
    // a pass folds) and a watermark that follows the stored events at once. ClickHouse folds every
    // trigger audience and reads only up to a settled mark (several writers), so these counts differ
    // there by design: DuckDB only, named so. The triggers themselves are compared across backends
    // in test/audience-triggers.backends.test.ts.
    const duckdbOnly = (name: string, fn: () => Promise<void>) => {
      if (backend.name === 'duckdb') test(`${name} [DuckDB only: DuckDB's pass plan]`, fn);
    };
    let dir: string;
    let catalog: CatalogDb;
    let storage: OpenedStorage;
    let store: OpenedStorage['events'];
    let clock: bigint;
    const dirs: string[] = [];

    const logger = (submit?: (events: NewEvent[]) => Promise<bigint[]>) =>
      new AudienceTriggerLogger({
        catalog,
        executor: storage.executor,
        progress: storage.triggerProgress,
        submit: submit ?? ((events) => store.append(events)),
        backfillDays: 30,
        intervalMs: 1_000_000,
        log: silent,
        now: () => clock,
      });
    const triggers = async () => (await store.readEvents(1n)).filter((e) => e.source === 'audience_trigger');
    const addAudience = async (def: unknown, createTime: bigint) =>
      (
        await catalog
          .insertInto('audiences')
          .values({
            property_id: 1,
            display_name: (def as { displayName: string }).displayName,
            definition: JSON.stringify(def),
            builtin: null,
            create_time: Number(createTime),
          })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'audex-triggers-'));
      dirs.push(dir);
      catalog = await openCatalog(dir);
      await catalog
        .insertInto('properties')
        .values({
          account_id: 1,
          display_name: 'p',
          time_zone: 'UTC',
          currency_code: 'USD',
          industry_category: 'OTHER',
          create_time: 0,
          update_time: 0,
        })
        .execute();
      storage = await backend.open();
      store = storage.events;
      clock = T0 - 10n * MIN;
    });
    afterEach(async () => {
      await storage.close();
      await catalog.destroy();
    });
    after(() => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    test('no audience with a trigger: a pass does nothing', async () => {
      const l = logger();
      await l.init();
      await store.append([purchase('u1', T0 + MIN, 500)]);
      assert.equal(await l.runPass(), null);
      assert.deepEqual(await triggers(), []);
    });

    duckdbOnly('a crash between the append and the watermark update stores nothing twice', async () => {
      const first = logger(async (events) => {
        await store.append(events);
        throw new Error('crash after the append');
      });
      await first.init();
      await first.runPass(); // idle: remembers the pass time
      clock = T0;
      const id = await addAudience(E12, T0);
      await store.append([
        purchase('u1', T0 + MIN, 60, 7n),
        purchase('u1', T0 + 2n * MIN, 50, 8n),
        purchase('u2', T0 + MIN, 150, 9n),
      ]);
      clock = T0 + 3n * MIN;
      await assert.rejects(first.runPass(), /crash after the append/);
      assert.equal((await triggers()).length, 2);

      // A restart: a new logger on the same data; the watermark did not move, so it replays (W, H].
      const second = logger();
      await second.init();
      const r = await second.runPass();
      assert.equal(r?.stored, 0);
      assert.equal(r?.users, 2);
      const t = await triggers();
      assert.deepEqual(
        t.map((e) => [e.user_pseudo_id, e.event_timestamp, e.ga_session_id, e.event_params.audience_id]),
        [
          ['u1', T0 + 2n * MIN, 8n, { int_value: BigInt(id) }],
          ['u2', T0 + MIN, 9n, { int_value: BigInt(id) }],
        ],
      );
      // Nothing new: the next pass has nothing to read.
      assert.equal((await second.runPass())?.users, 0);
      // New events of a member re-evaluate it, and still store nothing twice.
      await store.append([baseEvent({ user_pseudo_id: 'u1', event_timestamp: T0 + 4n * MIN })]);
      const again = await second.runPass();
      assert.deepEqual([again?.users, again?.stored], [1, 0]);
      assert.equal((await triggers()).length, 2);
    });

    duckdbOnly(
      'a trigger added later to an old audience: only qualifications that arrive afterwards',
      async () => {
        const { eventTrigger: _t, ...withoutTrigger } = E12;
        const id = await addAudience(withoutTrigger, T0);
        clock = T0 + 60n * MIN;
        const l = logger();
        await l.init();
        await store.append([purchase('u1', T0 + MIN, 500)]); // u1 qualifies while there is no trigger
        assert.equal(await l.runPass(), null);
        await catalog
          .updateTable('audiences')
          .set({ definition: JSON.stringify(E12) })
          .where('id', '=', id)
          .execute();
        clock += MIN;
        assert.equal((await l.runPass())?.stored, 0); // u1 re-evaluated: its join predates the trigger
        await store.append([
          purchase('u2', T0 + 61n * MIN, 500),
          baseEvent({ user_pseudo_id: 'u1', event_timestamp: T0 + 61n * MIN }),
        ]);
        clock += MIN;
        assert.equal((await l.runPass())?.stored, 1);
        assert.deepEqual(
          (await triggers()).map((e) => e.user_pseudo_id),
          ['u2'],
        );
      },
    );

    // --- incremental passes (docs/audiences.md §2.7 "Cost") ------------------------------------

    const renewPurchasers = {
      ...E1,
      displayName: 'Purchasers (renewals)',
      eventTrigger: { eventName: 'purchaser_renewed', logCondition: 'AUDIENCE_MEMBERSHIP_RENEWED' },
    };
    const cartJoined = {
      ...E4,
      eventTrigger: { eventName: 'cart_joined', logCondition: 'AUDIENCE_JOINED' },
    };
    const event = (user: string, name: string, at: bigint): NewEvent =>
      baseEvent({ event_name: name, user_pseudo_id: user, event_timestamp: at, ga_session_id: 1n });
    /** The triggers the reference evaluator gives over each user's whole stored history. */
    const expectedTriggers = async (def: unknown, createTime: bigint, now: bigint) => {
      const audience: AudienceDefinition = parseAudience(def);
      const byUser = new Map<string, StoredEvent[]>();
      for (const e of await store.readEvents(1n)) {
        if (e.source === 'audience_trigger') continue;
        byUser.set(e.user_pseudo_id, [...(byUser.get(e.user_pseudo_id) ?? []), e]);
      }
      const config = {
        createTimeMicros: createTime,
        backfillDays: 30,
        timeZone: 'UTC',
        ignoreEventNamesForAdjacency: [],
      };
      return [...byUser.values()]
        .flatMap((events) => evaluateUser(audience, events, now, config).triggers)
        .map((t) => [t.userPseudoId, t.timestamp])
        .sort((a, b) => String(a).localeCompare(String(b)));
    };
    const storedTriggers = async (name: string) =>
      (await triggers())
        .filter((e) => e.event_name === name)
        .map((e) => [e.user_pseudo_id, e.event_timestamp])
        .sort((a, b) => String(a).localeCompare(String(b)));

    test('the audiences under test are all on the SQL plan (E12: a static metric, gated too)', () => {
      assert.equal(planAudience(parseAudience(renewPurchasers)), 'sql');
      assert.equal(planAudience(parseAudience(cartJoined)), 'sql');
      assert.equal(planAudience(parseAudience(E12)), 'sql');
    });

    duckdbOnly(
      'Purchasers: a pass reads only users with new events and takes the triggers from SQL, folding nobody',
      async () => {
        clock = T0;
        const l = logger();
        await l.init();
        await l.runPass(); // idle: remembers the pass time
        await addAudience(renewPurchasers, T0);
        await store.append([
          purchase('u1', T0 + MIN, 10),
          event('u2', 'page_view', T0 + MIN),
          event('u3', 'page_view', T0 + MIN),
        ]);
        clock = T0 + 2n * MIN;
        let r = await l.runPass();
        // Three users with new events; every purchase qualifies (sql-triggers.ts): only u1's fires.
        assert.deepEqual([r?.users, r?.folded, r?.direct, r?.stored], [3, 0, 1, 1]);

        // Only u2 and u1 have new events: u3 is not read at all; u2 (no purchase) fires nothing.
        await store.append([event('u2', 'page_view', T0 + 3n * MIN), purchase('u1', T0 + 3n * MIN, 5)]);
        clock = T0 + 4n * MIN;
        r = await l.runPass();
        assert.deepEqual([r?.users, r?.folded, r?.direct, r?.stored], [2, 0, 1, 1]);

        // u2 purchases: a renewal trigger at its purchase's time.
        await store.append([purchase('u2', T0 + 5n * MIN, 1)]);
        clock = T0 + 6n * MIN;
        r = await l.runPass();
        assert.deepEqual([r?.users, r?.folded, r?.direct, r?.stored], [1, 0, 1, 1]);
        assert.deepEqual(
          await storedTriggers('purchaser_renewed'),
          await expectedTriggers(renewPurchasers, T0, clock),
        );
        assert.deepEqual(await storedTriggers('purchaser_renewed'), [
          ['u1', T0 + MIN],
          ['u1', T0 + 3n * MIN],
          ['u2', T0 + 5n * MIN],
        ]);

        // Idempotent: nothing new, nothing read; a new event of a member adds nothing twice.
        assert.deepEqual([(await l.runPass())?.users, (await l.runPass())?.stored], [0, 0]);
        await store.append([event('u1', 'page_view', T0 + 7n * MIN)]);
        r = await l.runPass();
        // u1's earlier purchases are read again (the audience emits every qualification since its
        // createTime, as the fold would); the stored triggers cancel them.
        assert.deepEqual([r?.users, r?.folded, r?.direct, r?.stored], [1, 0, 1, 0]);
      },
    );

    duckdbOnly(
      'SQL plan with a permanent exclusion: a join followed by the exclusion in one pass still emits',
      async () => {
        clock = T0;
        const l = logger();
        await l.init();
        await l.runPass();
        await addAudience(cartJoined, T0);
        await store.append([
          event('u1', 'add_to_cart', T0 + MIN),
          event('u1', 'purchase', T0 + 2n * MIN), // excluded for good from here on
          event('u2', 'add_to_cart', T0 + MIN),
          event('u3', 'purchase', T0 + MIN),
        ]);
        clock = T0 + 3n * MIN;
        const r = await l.runPass();
        // From the compiled per-event state, nobody folded: u3 never added to cart; u1 is no member
        // now, but joined at its add_to_cart.
        assert.deepEqual([r?.users, r?.folded, r?.direct, r?.stored], [3, 0, 2, 2]);
        assert.deepEqual(await storedTriggers('cart_joined'), [
          ['u1', T0 + MIN],
          ['u2', T0 + MIN],
        ]);
        assert.deepEqual(await storedTriggers('cart_joined'), await expectedTriggers(cartJoined, T0, clock));
      },
    );

    duckdbOnly(
      'restart: a new logger continues from the stored watermark and replays nothing twice',
      async () => {
        clock = T0;
        const first = logger(async (events) => {
          await store.append(events);
          throw new Error('crash after the append');
        });
        await first.init();
        await first.runPass();
        await addAudience(renewPurchasers, T0);
        await addAudience(E12, T0);
        await store.append([purchase('u1', T0 + MIN, 150), purchase('u2', T0 + MIN, 20)]);
        clock = T0 + 2n * MIN;
        await assert.rejects(first.runPass(), /crash after the append/);
        const afterCrash = (await triggers()).length;
        assert.ok(afterCrash >= 1);

        const second = logger();
        await second.init();
        let r = await second.runPass(); // replays (W, H]: what the crash stored cancels the replan
        assert.equal(r?.users, 2);
        assert.equal((await triggers()).length, 3); // two renewals, one join of E12 (u1)
        await store.append([purchase('u2', T0 + 3n * MIN, 200), event('u3', 'page_view', T0 + 3n * MIN)]);
        clock = T0 + 4n * MIN;
        r = await second.runPass();
        // u2 and u3 are new: Purchasers' triggers come from its qualifying events (u2's purchase),
        // E12's from its compiled per-event state (u2 joins; u3 has nothing but a page_view).
        assert.deepEqual([r?.users, r?.folded, r?.direct, r?.stored], [2, 0, 2, 2]);

        const third = logger();
        await third.init();
        assert.equal((await third.runPass())?.users, 0);
        assert.deepEqual(
          await storedTriggers('purchaser_renewed'),
          await expectedTriggers(renewPurchasers, T0, clock),
        );
        assert.deepEqual(await storedTriggers('became_high_value'), await expectedTriggers(E12, T0, clock));
      },
    );
  }),
);
