import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type { CatalogDb } from '../catalog/db.ts';
import { forEachCatalog, type CatalogSlot } from '../../test/helpers/catalogs.ts';
import { ApiError } from '../domain/errors.ts';
import {
  lastCompleteDay,
  parseActiveDaysRemaining,
  parseRecurringInput,
  recurringJson,
  RecurringScheduler,
  type CreateList,
  type NewRecurring,
  type RecurringSchedulerOptions,
} from './recurring.ts';

const quiet = { info: () => undefined, error: () => undefined };

/** µs of a local wall-clock time in a zone. */
function at(iso: string, zone: string): bigint {
  const dt = DateTime.fromISO(iso, { zone });
  assert.ok(dt.isValid, iso);
  return BigInt(dt.toMillis()) * 1000n;
}

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

function recurring(over: Partial<NewRecurring> = {}): NewRecurring {
  return {
    propertyId: 1,
    audience: 'properties/1/audiences/7',
    audienceDisplayName: 'Purchasers',
    dimensions: ['deviceId', 'userId'],
    activeDaysRemaining: 5,
    timeZone: 'America/Los_Angeles',
    ...over,
  };
}

/** A createList that records its calls and names lists properties/{p}/audienceLists/{n}. */
function recorder(clock: () => bigint) {
  const calls: { id: number; day: string; at: bigint }[] = [];
  let n = 0;
  const fn: CreateList = async (r, day) => {
    calls.push({ id: r.id, day, at: clock() });
    return `properties/${r.propertyId}/audienceLists/${++n}`;
  };
  return { calls, fn };
}

describe('recurring input', () => {
  const bad = (f: () => unknown, re: RegExp) =>
    assert.throws(
      f,
      (e: unknown) => e instanceof ApiError && e.status === 'INVALID_ARGUMENT' && re.test(e.message),
    );

  test('activeDaysRemaining: default 14, minimum 1, coerced to 30', () => {
    assert.equal(parseActiveDaysRemaining(undefined), 14);
    assert.equal(parseActiveDaysRemaining(null), 14);
    assert.equal(parseActiveDaysRemaining(1), 1);
    assert.equal(parseActiveDaysRemaining('7'), 7);
    assert.equal(parseActiveDaysRemaining(30), 30);
    assert.equal(parseActiveDaysRemaining(31), 30);
    assert.equal(parseActiveDaysRemaining(2147483647), 30);
    // proto3 optional: an explicit 0 was set by the caller, and the minimum at creation is 1.
    bad(
      () => parseActiveDaysRemaining(0),
      /^recurring_audience_list\.active_days_remaining: must be at least 1/,
    );
    bad(
      () => parseActiveDaysRemaining('0'),
      /^recurring_audience_list\.active_days_remaining: must be at least 1/,
    );
    bad(
      () => parseActiveDaysRemaining(-1),
      /^recurring_audience_list\.active_days_remaining: must be at least 1/,
    );
    bad(
      () => parseActiveDaysRemaining(1.5),
      /^recurring_audience_list\.active_days_remaining: must be an integer/,
    );
    bad(
      () => parseActiveDaysRemaining('x'),
      /^recurring_audience_list\.active_days_remaining: must be an integer/,
    );
    bad(() => parseActiveDaysRemaining(true), /^recurring_audience_list\.active_days_remaining/);
    bad(() => parseActiveDaysRemaining(2 ** 31), /int32/);
  });

  test('parseRecurringInput', () => {
    assert.deepEqual(parseRecurringInput({ audience: 'a', dimensions: [] }, { allowHttpWebhooks: false }), {
      audience: 'a',
      dimensions: [],
      activeDaysRemaining: 14,
    });
    assert.deepEqual(
      parseRecurringInput(
        {
          audience: 'a',
          activeDaysRemaining: 45,
          webhookNotification: { uri: 'http://127.0.0.1/x', channelToken: 't' },
        },
        { allowHttpWebhooks: true },
      ),
      {
        audience: 'a',
        dimensions: undefined,
        activeDaysRemaining: 30,
        webhook: { uri: 'http://127.0.0.1/x', channelToken: 't' },
      },
    );
    bad(
      () =>
        parseRecurringInput(
          { webhookNotification: { uri: 'http://127.0.0.1/x' } },
          { allowHttpWebhooks: false },
        ),
      /^recurring_audience_list\.webhook_notification\.uri: must be an https/,
    );
    bad(
      () => parseRecurringInput({ activeDaysRemaining: -3 }, { allowHttpWebhooks: false }),
      /recurring_audience_list\.active_days_remaining/,
    );
    bad(
      () => parseRecurringInput(null, { allowHttpWebhooks: false }),
      /^recurring_audience_list: is required/,
    );
  });
});

describe('lastCompleteDay', () => {
  test('the day that ended most recently, in the property zone', () => {
    const la = 'America/Los_Angeles';
    assert.equal(lastCompleteDay(at('2024-11-03T23:59:59', la), la), '2024-11-02');
    assert.equal(lastCompleteDay(at('2024-11-04T00:00:00', la), la), '2024-11-03');
    // Fall back: 2024-11-03 has 25 hours; 01:30 happens twice and belongs to the 3rd both times.
    assert.equal(lastCompleteDay(at('2024-11-03T00:00:00', la), la), '2024-11-02');
    assert.equal(lastCompleteDay(BigInt(Date.parse('2024-11-03T09:30:00Z')) * 1000n, la), '2024-11-02');
    // Spring forward.
    assert.equal(lastCompleteDay(at('2024-03-10T03:30:00', la), la), '2024-03-09');
    assert.equal(lastCompleteDay(at('2024-03-11T00:00:00', la), la), '2024-03-10');
    // Tokyo is 9 h ahead of UTC: 2024-06-01T15:00Z is already June 2 there.
    const utc = BigInt(Date.parse('2024-06-01T15:00:00Z')) * 1000n;
    assert.equal(lastCompleteDay(utc, 'Asia/Tokyo'), '2024-06-01');
    assert.equal(lastCompleteDay(utc, 'UTC'), '2024-05-31');
    assert.equal(lastCompleteDay(at('2024-03-01T00:00:00', 'Asia/Kolkata'), 'Asia/Kolkata'), '2024-02-29');
    assert.throws(() => lastCompleteDay(utc, 'Mars/Olympus'), /invalid time zone/);
  });
});

forEachCatalog((catalog) =>
  describe('RecurringScheduler', () => {
    let slot: CatalogSlot;
    let db: CatalogDb;
    before(async () => {
      slot = await catalog.create();
      db = await slot.open();
    });
    after(async () => {
      await db.destroy();
      slot.dispose();
    });

    /**
     * Creates a recurring list at local `createdAt`, then ticks every `stepMin` minutes until `until`.
     * Checks: first list at creation for the day before; each later list for day D exactly at local
     * midnight ending D; N lists in all; then nothing.
     */
    async function runSchedule(zone: string, createdAt: string, until: string, days: number, stepMin = 15) {
      let now = at(createdAt, zone);
      const clock = () => now;
      const rec = recorder(clock);
      const s = new RecurringScheduler(db, clock, rec.fn, quiet);
      const r = await s.create(recurring({ timeZone: zone, activeDaysRemaining: days }));
      assert.equal(r.activeDaysRemaining, days);
      assert.equal(await s.tick(), 1, 'the first list is made right away');
      assert.equal(await s.tick(), 0);
      assert.equal((await s.get(1, r.id))?.activeDaysRemaining, days, 'a day counts when it ends');
      const end = at(until, zone);
      while (now < end) {
        now += BigInt(stepMin) * 60_000_000n;
        await s.tick();
      }
      const calls = rec.calls.filter((c) => c.id === r.id);
      const first = lastCompleteDay(at(createdAt, zone), zone);
      assert.equal(calls.length, days);
      assert.deepEqual(calls[0], { id: r.id, day: first, at: at(createdAt, zone) });
      let day = first;
      for (const c of calls.slice(1)) {
        day = nextDay(day);
        assert.equal(c.day, day);
        assert.equal(
          c.at,
          at(`${nextDay(day)}T00:00:00`, zone),
          `list of ${day} made at local midnight ending it`,
        );
      }
      const names = await s.listNames(r.id);
      assert.equal(names.length, days);
      assert.deepEqual(
        names,
        [...names].sort((a, b) => Number(b.split('/').pop()) - Number(a.split('/').pop())),
      );
      const final = await s.get(1, r.id);
      assert.equal(final?.activeDaysRemaining, 0);
      assert.deepEqual(recurringJson(final, names), {
        name: `properties/1/recurringAudienceLists/${r.id}`,
        audience: 'properties/1/audiences/7',
        audienceDisplayName: 'Purchasers',
        dimensions: [{ dimensionName: 'deviceId' }, { dimensionName: 'userId' }],
        activeDaysRemaining: 0,
        audienceLists: names,
      });
      return calls;
    }

    test('one list per property day across midnights and a DST fall-back (Los Angeles)', async () => {
      const calls = await runSchedule('America/Los_Angeles', '2024-11-01T15:30:00', '2024-11-09T00:00:00', 5);
      assert.deepEqual(
        calls.map((c) => c.day),
        ['2024-10-31', '2024-11-01', '2024-11-02', '2024-11-03', '2024-11-04'],
      );
      // 2024-11-03 lasted 25 hours: its list came 25 h after the previous one.
      assert.equal(calls[4]!.at - calls[3]!.at, 24n * 3600_000_000n);
      assert.equal(calls[3]!.at - calls[2]!.at, 25n * 3600_000_000n);
    });

    test('spring-forward (Los Angeles) and a zone ahead of UTC (Tokyo)', async () => {
      const la = await runSchedule(
        'America/Los_Angeles',
        '2024-03-08T23:50:00',
        '2024-03-13T00:00:00',
        3,
        10,
      );
      assert.deepEqual(
        la.map((c) => c.day),
        ['2024-03-07', '2024-03-08', '2024-03-09'],
      );
      const tokyo = await runSchedule('Asia/Tokyo', '2024-06-01T08:00:00', '2024-06-06T00:00:00', 3);
      assert.deepEqual(
        tokyo.map((c) => c.day),
        ['2024-05-31', '2024-06-01', '2024-06-02'],
      );
    });

    test('no backfill after an outage: one list for the latest complete day', async () => {
      const zone = 'Europe/Berlin';
      let now = at('2024-05-01T12:00:00', zone);
      const clock = () => now;
      const rec = recorder(clock);
      const s = new RecurringScheduler(db, clock, rec.fn, quiet);
      const r = await s.create(recurring({ timeZone: zone, activeDaysRemaining: 3 }));
      await s.tick();
      now = at('2024-05-05T09:00:00', zone);
      assert.equal(await s.tick(), 1);
      assert.equal(await s.tick(), 0);
      assert.deepEqual(
        rec.calls.filter((c) => c.id === r.id).map((c) => c.day),
        ['2024-04-30', '2024-05-04'],
      );
      // Two days used; today's (the list made this morning) counts from tomorrow.
      assert.equal((await s.get(1, r.id))?.activeDaysRemaining, 2);
      now = at('2024-05-06T09:00:00', zone);
      assert.equal(await s.tick(), 1);
      assert.equal((await s.get(1, r.id))?.activeDaysRemaining, 1);
      now = at('2024-05-07T09:00:00', zone);
      assert.equal(await s.tick(), 0);
      assert.equal((await s.get(1, r.id))?.activeDaysRemaining, 0);
    });

    test('two schedulers over two catalog handles never make two lists for one day', async () => {
      const db2 = await slot.open();
      try {
        let now = at('2024-10-30T10:00:00', 'America/Los_Angeles');
        const clock = () => now;
        const rec = recorder(clock);
        // Both instances share the recorder, so a duplicate would show up as two calls.
        const s1 = new RecurringScheduler(db, clock, rec.fn, quiet);
        const s2 = new RecurringScheduler(db2, clock, rec.fn, quiet);
        const s3 = new RecurringScheduler(db2, clock, rec.fn, quiet);
        const ids: number[] = [];
        for (const [zone, days] of [
          ['America/Los_Angeles', 6],
          ['Asia/Tokyo', 4],
          ['Europe/London', 30],
        ] as const)
          ids.push(
            (await s1.create(recurring({ propertyId: 3, timeZone: zone, activeDaysRemaining: days }))).id,
          );
        for (let round = 0; round < 80; round++) {
          await Promise.all([s1.tick(), s2.tick(), s3.tick(), s1.tick(), s2.tick()]);
          now += 3n * 3600_000_000n; // 10 days in all, across the US/EU fall-backs
        }
        const mine = rec.calls.filter((c) => ids.includes(c.id));
        const keys = mine.map((c) => `${c.id}/${c.day}`);
        assert.equal(new Set(keys).size, keys.length, `duplicate lists: ${keys.join(', ')}`);
        const per = ids.map((id) => mine.filter((c) => c.id === id).length);
        // LA and Tokyo used up their days; London made one at creation plus one per day (10 days).
        assert.deepEqual(per, [6, 4, 11]);
        for (const [i, id] of ids.entries()) assert.equal((await s2.listNames(id)).length, per[i]);
      } finally {
        await db2.destroy();
      }
    });

    test('a crash between claim and record is resumed exactly once', async () => {
      const zone = 'Asia/Tokyo';
      let now = at('2024-07-01T09:00:00', zone);
      const clock = () => now;
      const opts: RecurringSchedulerOptions = { leaseMs: 60_000 };
      // Instance A claims the day and "dies" inside createList (its promise never settles until we say).
      let releaseA: ((name: string) => void) | undefined;
      const aCalls: string[] = [];
      const a = new RecurringScheduler(
        db,
        clock,
        async (_r, day) => {
          aCalls.push(day);
          return await new Promise<string>((res) => (releaseA = res));
        },
        quiet,
        opts,
      );
      const rec = recorder(clock);
      const db2 = await slot.open();
      try {
        const b = new RecurringScheduler(db2, clock, rec.fn, quiet, opts);
        const r = await a.create(recurring({ timeZone: zone, activeDaysRemaining: 2 }));
        const zombie = a.tick();
        while (releaseA === undefined) await new Promise((res) => setImmediate(res));
        assert.deepEqual(aCalls, ['2024-06-30']);
        const claim = await db
          .selectFrom('recurring_list_days')
          .selectAll()
          .where('recurring_id', '=', r.id)
          .executeTakeFirstOrThrow();
        assert.equal(claim.state, 'CLAIMED');
        assert.equal(claim.list_name, null);
        // While A's lease holds, B neither resumes the claim nor claims another day.
        assert.equal(await b.tick(), 0);
        now += 30_000_000n;
        assert.equal(await b.tick(), 0);
        assert.equal(rec.calls.length, 0);
        // The lease lapses: B completes the claim, once.
        now += 31_000_000n;
        assert.equal(await b.tick(), 1);
        assert.equal(await b.tick(), 0);
        assert.deepEqual(
          rec.calls.map((c) => c.day),
          ['2024-06-30'],
        );
        const names = await b.listNames(r.id);
        assert.equal(names.length, 1);
        assert.equal((await b.get(1, r.id))?.activeDaysRemaining, 2, "today's list counts from tomorrow");
        // A wakes up: its record is refused (the claim is no longer its own).
        releaseA('properties/1/audienceLists/999');
        assert.equal(await zombie, 0);
        assert.deepEqual(await b.listNames(r.id), names);
        assert.equal((await b.get(1, r.id))?.activeDaysRemaining, 2);
        // The next day goes on normally.
        now = at('2024-07-02T00:00:00', zone);
        assert.equal(await b.tick(), 1);
        assert.equal((await b.get(1, r.id))?.activeDaysRemaining, 1);
        now = at('2024-07-05T00:00:00', zone);
        assert.equal(await b.tick(), 0);
        assert.equal((await b.get(1, r.id))?.activeDaysRemaining, 0);
        assert.equal(await a.tick(), 0);
        assert.equal((await b.listNames(r.id)).length, 2);
      } finally {
        await db2.destroy();
      }
    });

    test('createList failures are retried, then the day is given up and counted', async () => {
      const zone = 'UTC';
      let now = at('2024-08-10T12:00:00', zone);
      const clock = () => now;
      let failures = 0;
      const errs: string[] = [];
      const s = new RecurringScheduler(
        db,
        clock,
        async (r, day) => {
          if (day === '2024-08-09' && failures < 2) {
            failures++;
            throw new Error('quota exhausted');
          }
          if (day === '2024-08-10') throw new Error('always broken');
          return `properties/1/audienceLists/${r.id}${day.replaceAll('-', '')}`;
        },
        { info: () => undefined, error: (m) => errs.push(m) },
        { retryDelayMs: 1000, maxAttempts: 3 },
      );
      const r = await s.create(recurring({ timeZone: zone, activeDaysRemaining: 3 }));
      assert.equal(await s.tick(), 0);
      assert.equal(await s.tick(), 0, 'not retried before retryDelayMs');
      now += 1_000_000n;
      assert.equal(await s.tick(), 0);
      now += 1_000_000n;
      assert.equal(await s.tick(), 1, 'third attempt succeeds');
      assert.deepEqual(await s.listNames(r.id), [`properties/1/audienceLists/${r.id}20240809`]);
      // The next day always fails: given up after 3 attempts, it uses a day.
      now = at('2024-08-11T00:00:00', zone);
      for (let i = 0; i < 5; i++) {
        await s.tick();
        now += 1_000_000n;
      }
      const day = await db
        .selectFrom('recurring_list_days')
        .selectAll()
        .where('recurring_id', '=', r.id)
        .where('day', '=', '2024-08-10')
        .executeTakeFirstOrThrow();
      assert.equal(day.state, 'FAILED');
      assert.equal(day.attempts, 3);
      assert.equal(day.last_error, 'always broken');
      assert.ok(errs.includes('recurring audience list: giving up on a day'));
      assert.equal((await s.get(1, r.id))?.activeDaysRemaining, 2);
      now = at('2024-08-12T00:00:00', zone);
      assert.equal(await s.tick(), 1);
      assert.equal((await s.get(1, r.id))?.activeDaysRemaining, 1);
      now = at('2024-08-13T00:00:00', zone);
      assert.equal(await s.tick(), 0);
      assert.equal((await s.get(1, r.id))?.activeDaysRemaining, 0);
      assert.equal((await s.listNames(r.id)).length, 2);
    });

    test('start() makes the first list promptly; stop() waits for the tick', async () => {
      let now = at('2024-09-01T12:00:00', 'UTC');
      const clock = () => now;
      const rec = recorder(clock);
      const s = new RecurringScheduler(db, clock, rec.fn, quiet, { tickMs: 10 });
      const r = await s.create(recurring({ timeZone: 'UTC', activeDaysRemaining: 2 }));
      s.start();
      const end = Date.now() + 5000;
      while ((await s.listNames(r.id)).length < 1 && Date.now() < end)
        await new Promise((res) => setTimeout(res, 5));
      now = at('2024-09-02T00:00:00', 'UTC');
      while ((await s.listNames(r.id)).length < 2 && Date.now() < end)
        await new Promise((res) => setTimeout(res, 5));
      await s.stop();
      assert.deepEqual(
        rec.calls.filter((c) => c.id === r.id).map((c) => c.day),
        ['2024-08-31', '2024-09-01'],
      );
      const list = await s.list(1, null, 1000);
      assert.ok(list.some((x) => x.id === r.id));
      assert.deepEqual(
        list.map((x) => x.id),
        [...list.map((x) => x.id)].sort((a, b) => b - a),
      );
    });
  }),
);
