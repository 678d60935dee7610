// The audience trigger logger (src/audience/triggers/) on every event engine (helpers/backends.ts):
// the example audiences E1–E12, each with an eventTrigger, over the same events appended in two
// batches with a pass after each. Every engine stores the same trigger events (DuckDB's are checked
// against the reference evaluator by test/audience-triggers.duckdb.test.ts), no pass logs an error
// (on ClickHouse 18.16 the SQL-plan audiences take their triggers from the per-event state over
// per-user arrays, as DuckDB takes them from its CTEs: nothing is folded), and the second pass only adds.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCatalog, type CatalogDb } from '../src/catalog/db.ts';
import { AudienceTriggerLogger } from '../src/audience/triggers/logger.ts';
import * as examples from '../src/audience/fixtures/examples.ts';
import type { NewEvent, StoredEvent } from '../src/domain/event.ts';
import { backends } from './helpers/backends.ts';
import { realisticEvent } from './helpers/event-fixtures.ts';

// The ClickHouse trigger watermark waits for seqs to settle (several writers); one writer here.
process.env.AUDEX_TRIGGER_SETTLE_MS = '0';

const MIN = 60_000_000n;
const T0 = 1_780_000_000_000_000n;
const USERS = 12;

/** Event i: user u(i mod 12), names cycling, purchases of varied value, sessions of a few events. */
function event(i: number): NewEvent {
  const e = realisticEvent(i);
  const at = T0 + BigInt(i) * 7n * MIN;
  const value = (i * 37) % 300;
  return {
    ...e,
    user_pseudo_id: `u${i % USERS}`,
    user_id: null,
    event_timestamp: at,
    received_at: at,
    ga_session_id: BigInt(1000 + (i % USERS) * 100 + Math.floor(i / (3 * USERS))),
    geo_country_id: i % 3 === 0 ? 'US' : 'DE',
    device_category: i % 5 === 0 ? 'mobile' : 'desktop',
    ecommerce_purchase_revenue: e.event_name === 'purchase' ? value : null,
    event_params:
      e.event_name === 'purchase'
        ? { ...e.event_params, value: { double_value: value } }
        : e.event_name === 'page_view'
          ? { ...e.event_params, page_location: { string_value: `https://shop.example.com/pricing?i=${i}` } }
          : e.event_params,
  };
}
const EVENTS = Array.from({ length: 240 }, (_, i) => event(i));
const EXAMPLES = Object.entries(examples)
  .filter(([name]) => /^E\d+$/.test(name))
  .map(([name, def], k) => ({
    name,
    def: {
      ...(def as { displayName: string }),
      eventTrigger: {
        eventName: `trigger_${name.toLowerCase()}`,
        logCondition: k % 3 === 2 ? 'AUDIENCE_MEMBERSHIP_RENEWED' : 'AUDIENCE_JOINED',
      },
    },
  }));

type Fired = [audience: string, user: string, at: string];
const results = new Map<string, { first: Fired[]; all: Fired[] }>();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

for (const backend of backends()) {
  test(`trigger passes on ${backend.name}: no errors, triggers stored`, async () => {
    const storage = await backend.open();
    const dir = mkdtempSync(join(tmpdir(), 'audex-trig-cat-'));
    dirs.push(dir);
    let catalog: CatalogDb | null = null;
    try {
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
      for (const { def } of EXAMPLES)
        await catalog
          .insertInto('audiences')
          .values({
            property_id: 1,
            display_name: (def as { displayName: string }).displayName,
            definition: JSON.stringify(def),
            builtin: null,
            create_time: Number(T0 - MIN),
          })
          .execute();
      const errors: string[] = [];
      let clock = T0 - MIN;
      const logger = new AudienceTriggerLogger({
        catalog,
        executor: storage.executor,
        progress: storage.triggerProgress,
        submit: (events) => storage.events.append(events),
        backfillDays: null,
        intervalMs: 1_000_000,
        log: { info: () => undefined, error: (msg, f) => errors.push(`${msg} ${JSON.stringify(f)}`) },
        now: () => clock,
      });
      await logger.init();
      await logger.runPass();
      const fired = async (): Promise<Fired[]> =>
        (await storage.events.readEvents(1n))
          .filter((e: StoredEvent) => e.source === 'audience_trigger')
          .map((e): Fired => [e.event_name, e.user_pseudo_id, e.event_timestamp.toString()])
          .sort((a, b) => a.join().localeCompare(b.join()));
      await storage.events.append(EVENTS.slice(0, 120));
      clock = T0 + 120n * 7n * MIN;
      await logger.runPass();
      const first = await fired();
      await storage.events.append(EVENTS.slice(120));
      clock = T0 + 240n * 7n * MIN;
      const second = await logger.runPass();
      const all = await fired();
      assert.deepEqual(errors, []);
      assert.ok(
        second !== null && second.users === USERS,
        `second pass: ${JSON.stringify(second, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
      assert.ok(first.length > 0, 'the first pass stored triggers');
      // Every example is on the SQL plan: on either engine its triggers come from SQL, not the fold.
      assert.equal(second.folded, 0, 'no history folded');
      assert.ok(new Set(all.map((f) => f[0])).size >= 4, `triggers of several audiences: ${all.length}`);
      for (const f of first)
        assert.ok(
          all.some((g) => g.join() === f.join()),
          'passes only add',
        );
      results.set(backend.name, { first, all });
      if (results.size > 1) {
        const [reference, ...others] = [...results];
        for (const [name, r] of others)
          assert.deepEqual(r, reference![1], `${name} stores the triggers ${reference![0]} stores`);
      }
    } finally {
      await catalog?.destroy();
      await storage.close();
    }
  });
}
