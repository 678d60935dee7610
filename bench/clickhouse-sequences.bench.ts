// Sequence audiences on ClickHouse 18.16: the one statement over per-user arrays
// (src/audience/compile/clickhouse-sequences.ts) against the hybrid plan that ran them before
// (the evaluation window streamed to the reference fold, AudienceEvaluator with compiledSql false),
// over the same events in one private server. Prints each time, the member counts (which must
// agree) and the load average. Run by hand:
//   npx tsx bench/clickhouse-sequences.bench.ts                    (200k events, 4,000 users)
//   AUDEX_BENCH_EVENTS=1000000 npx tsx bench/clickhouse-sequences.bench.ts

import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AudienceDefinition } from '../src/domain/audience.ts';
import type { NewEvent } from '../src/domain/event.ts';
import { parseAudience } from '../src/audience/validate.ts';
import { E6, E7 } from '../src/audience/fixtures/examples.ts';
import { AudienceEvaluator } from '../src/audience/evaluate/members.ts';
import { open } from '../src/storage/clickhouse/index.ts';
import { realisticEvent } from '../test/helpers/event-fixtures.ts';
import { startClickHouse } from '../test/helpers/clickhouse-server.ts';

const EVENTS = Number(process.env.AUDEX_BENCH_EVENTS ?? 200_000);
/** 50 events per user, so that chains have events to run over. */
const USERS = Math.max(1, Math.floor(EVENTS / 50));
const BATCH = 50_000;
const NAMES = ['page_view', 'view_item', 'scroll', 'add_to_cart', 'sign_up', 'page_view', 'purchase'];

/** realisticEvent with USERS users, a session per 10 of a user's events, names mixed by a hash. */
function event(i: number): NewEvent {
  const e = realisticEvent(i, 1n);
  const user = i % USERS;
  const k = Math.floor(i / USERS);
  return {
    ...e,
    user_pseudo_id: `${user}.${1_700_000_000 + user}`,
    ga_session_id: BigInt(1_735_689_600 + Math.floor(k / 10)),
    event_name: NAMES[((Math.imul(k + 1, 2654435761) ^ Math.imul(user + 1, 40503)) >>> 0) % NAMES.length]!,
  };
}

/** E6 and E7 over 30 days (the bench's events span minutes), and E6 within one session. */
function audiences(): [string, AudienceDefinition][] {
  const e6 = { ...E6, membershipDurationDays: 30 };
  const session = structuredClone(e6) as unknown as {
    filterClauses: { sequenceFilter: { scope: string } }[];
  };
  session.filterClauses[0]!.sequenceFilter.scope = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
  return [
    ['E6 view_item directly followed by add_to_cart within 30 min', parseAudience(e6)],
    ['E6 in the same session', parseAudience(session)],
    ['E7 sign_up then purchase within 7 days', parseAudience({ ...E7, membershipDurationDays: 30 })],
    ['view_item, more than one page_view (a range step with an eventCount), purchase', rangeStepAudience()],
  ];
}

/** A step over a range with an eventCount leaf (clickhouse-ranges.ts: every earlier row a candidate). */
function rangeStepAudience(): AudienceDefinition {
  const only = (leaf: object): object => ({
    andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [leaf] } }] },
  });
  const ACROSS = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';
  const EVENT = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
  const pageViews = {
    eventFilter: {
      eventName: 'page_view',
      eventParameterFilterExpression: {
        andGroup: {
          filterExpressions: [
            {
              dimensionOrMetricFilter: {
                fieldName: 'eventCount',
                numericFilter: { operation: 'GREATER_THAN', value: { int64Value: '1' } },
              },
            },
          ],
        },
      },
    },
  };
  return parseAudience({
    displayName: 'range step',
    description: 'x',
    membershipDurationDays: 30,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        sequenceFilter: {
          scope: ACROSS,
          sequenceSteps: [
            { scope: EVENT, filterExpression: only({ eventFilter: { eventName: 'view_item' } }) },
            { scope: ACROSS, filterExpression: only(pageViews) },
            { scope: EVENT, filterExpression: only({ eventFilter: { eventName: 'purchase' } }) },
          ],
        },
      },
    ],
  });
}

function fmt(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`;
}

async function main(): Promise<void> {
  const server = await startClickHouse({ shards: 1 });
  const dataDir = mkdtempSync(join(tmpdir(), 'audex-bench-chseq-'));
  const storage = await open({
    dataDir,
    eventsUrl: server.eventsUrl('bench'),
    threads: 2,
    memoryLimit: '4GB',
  });
  try {
    let last = 0n;
    for (let from = 0; from < EVENTS; from += BATCH) {
      const batch: NewEvent[] = [];
      for (let i = from; i < Math.min(EVENTS, from + BATCH); i++) batch.push(event(i));
      last = batch[batch.length - 1]!.event_timestamp;
      await storage.events.append(batch);
    }
    console.log(
      `${EVENTS.toLocaleString('en')} events, ${USERS.toLocaleString('en')} users, ClickHouse 18.16`,
    );
    const asOf = last + 1n;
    const config = {
      createTimeMicros: asOf,
      backfillDays: 30,
      timeZone: 'UTC',
      ignoreEventNamesForAdjacency: [],
    };
    const hybrid = new AudienceEvaluator(storage.executor, { compiledSql: false });
    for (const [label, audience] of audiences()) {
      const req = { propertyId: 1n, audience, config, asOfMicros: asOf };
      if (!storage.audiences.membersQuery?.(req)) throw new Error(`${label}: not one statement`);
      let t = performance.now();
      const one = await storage.audiences.findMembers(req);
      const oneMs = performance.now() - t;
      t = performance.now();
      const folded = await hybrid.findMembers(req);
      const foldMs = performance.now() - t;
      if (JSON.stringify([...one].sort()) !== JSON.stringify([...folded].sort()))
        throw new Error(`${label}: members differ (${one.length} / ${folded.length})`);
      console.log(
        `${label}: one statement ${fmt(oneMs)}, hybrid ${fmt(foldMs)} (${one.length.toLocaleString('en')} members)`,
      );
    }
    console.log(
      `load average ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await storage.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
