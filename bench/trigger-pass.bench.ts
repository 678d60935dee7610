// One trigger-logger pass (src/audience/triggers/logger.ts), timed on its own: `users` users with
// `history` events each, then one new 25-event batch for `active` of them, then one pass per
// trigger audience: E12 (a revenue metric), "Purchasers" (no member among the users), "Cart users"
// (every user a member), "Cart, not purchased" (a temporary exclusion), "Cart in a session with 3
// page views" (a session metric) and "page view then cart within 1 min" (a sequence). Prints wall
// and CPU time of the pass. AUDEX_BENCH_ONLY=<substring> keeps the audiences whose label has it.
//   npx tsx bench/trigger-pass.bench.ts [users=4096] [history=200] [active=4096]
// Runs against older trees too (the logger options of both shapes are passed).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCatalog } from '../src/catalog/db.ts';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';
import { baseEvent } from '../test/helpers/event-fixtures.ts';
import { AudienceTriggerLogger } from '../src/audience/triggers/logger.ts';
import { E1, E12 } from '../src/audience/fixtures/examples.ts';
import type { NewEvent } from '../src/domain/event.ts';

const users = Number(process.argv[2] ?? 4096);
const history = Number(process.argv[3] ?? 200);
const active = Number(process.argv[4] ?? users);
const MIN = 60_000_000n;
const T0 = BigInt(Date.now()) * 1000n - 24n * 60n * MIN;

const joined = { eventName: 'bench_joined', logCondition: 'AUDIENCE_JOINED' };
const cartUsers = {
  ...E1,
  displayName: 'Cart users',
  eventTrigger: joined,
  filterClauses: [
    {
      clauseType: 'INCLUDE',
      simpleFilter: {
        scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
        filterExpression: {
          andGroup: {
            filterExpressions: [
              { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'add_to_cart' } }] } },
            ],
          },
        },
      },
    },
  ],
};
const ACROSS = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';
const SESSION = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const EVENT = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
const events = (...names: string[]): unknown => ({
  andGroup: {
    filterExpressions: [
      { orGroup: { filterExpressions: names.map((eventName) => ({ eventFilter: { eventName } })) } },
    ],
  },
});
const cartNotPurchased = {
  ...cartUsers,
  displayName: 'Cart, not purchased',
  filterClauses: [
    ...cartUsers.filterClauses,
    { clauseType: 'EXCLUDE', simpleFilter: { scope: SESSION, filterExpression: events('purchase') } },
  ],
};
const sessionViews = {
  ...cartUsers,
  displayName: 'Cart in a session with more than 2 page views',
  filterClauses: [
    {
      clauseType: 'INCLUDE',
      simpleFilter: {
        scope: SESSION,
        filterExpression: {
          andGroup: {
            filterExpressions: [
              { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'add_to_cart' } }] } },
              {
                orGroup: {
                  filterExpressions: [
                    {
                      eventFilter: {
                        eventName: 'page_view',
                        eventParameterFilterExpression: {
                          andGroup: {
                            filterExpressions: [
                              {
                                dimensionOrMetricFilter: {
                                  fieldName: 'eventCount',
                                  numericFilter: { operation: 'GREATER_THAN', value: { int64Value: '2' } },
                                },
                              },
                            ],
                          },
                        },
                      },
                    },
                  ],
                },
              },
            ],
          },
        },
      },
    },
  ],
};
const viewThenCart = {
  ...cartUsers,
  displayName: 'Page view then cart within 1 min',
  filterClauses: [
    {
      clauseType: 'INCLUDE',
      sequenceFilter: {
        scope: ACROSS,
        sequenceSteps: [
          { scope: EVENT, filterExpression: events('page_view') },
          { scope: EVENT, constraintDuration: '60s', filterExpression: events('add_to_cart') },
        ],
      },
    },
  ],
};
const audiences = (
  [
    ['E12 (revenue metric)', E12],
    ['Purchasers (no members)', { ...E1, eventTrigger: joined }],
    ['Cart users (all members)', cartUsers],
    ['Cart, not purchased (temporary exclusion)', cartNotPurchased],
    ['Cart in a session with >2 page views (session count)', sessionViews],
    ['Page view then cart within 1 min (sequence)', viewThenCart],
  ] as [string, unknown][]
).filter(([label]) => !process.env.AUDEX_BENCH_ONLY || label.includes(process.env.AUDEX_BENCH_ONLY));

/** The MP bench's traffic shape: page views, every fifth event an add_to_cart. */
function batch(u: number, from: bigint, n: number): NewEvent[] {
  return Array.from({ length: n }, (_, i) =>
    baseEvent({
      user_pseudo_id: `${u}.1700000000`,
      event_name: i % 5 === 0 ? 'add_to_cart' : 'page_view',
      event_timestamp: from + BigInt(i) * 1_000_000n,
      ga_session_id: 1_700_000_000n + BigInt(u % 1000),
      event_params: {
        page_location: { string_value: `https://shop.example/p/${i}` },
        value: { double_value: i * 1.5 },
      },
    }),
  );
}

let executorModules: Record<string, any> | null = null;
try {
  executorModules = {
    ...(await import('../src/storage/duckdb/executor.ts')),
    ...(await import('../src/storage/duckdb/trigger-progress.ts')),
  };
} catch {
  executorModules = null; // an older tree: the logger takes the database itself
}

for (const [label, def] of audiences) {
  const dir = mkdtempSync(join(tmpdir(), 'audex-trigger-bench-'));
  const catalog = await openCatalog(dir);
  const store = await DuckDbEventStore.open({ dataDir: dir });
  try {
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
    await catalog
      .insertInto('audiences')
      .values({
        property_id: 1,
        display_name: 'x',
        definition: JSON.stringify(def),
        builtin: null,
        create_time: Number(T0),
      })
      .execute();
    const options: any = {
      catalog,
      db: store.db,
      ...(executorModules
        ? {
            executor: new executorModules.DuckDbExecutor(store.db),
            progress: new executorModules.DuckDbTriggerProgress(store.db),
          }
        : {}),
      submit: (events: NewEvent[]) => store.append(events),
      backfillDays: 30,
      intervalMs: 1_000_000,
      log: { info: () => undefined, error: () => undefined },
    };
    const logger = new AudienceTriggerLogger(options);
    await logger.init();
    for (let u = 0; u < users; u += 256) {
      const rows: NewEvent[] = [];
      for (let v = u; v < Math.min(users, u + 256); v++) rows.push(...batch(v, T0 + MIN, history));
      await store.append(rows);
    }
    await logger.runPass(); // the history: not timed
    const rows: NewEvent[] = [];
    for (let u = 0; u < active; u++) rows.push(...batch(u, T0 + 600n * MIN, 25));
    await store.append(rows);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const stats = await logger.runPass();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `${label}: pass ${ms.toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU; ${JSON.stringify(stats, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`,
    );
  } finally {
    await store.close();
    await catalog.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`users=${users} history=${history} active=${active}`);
