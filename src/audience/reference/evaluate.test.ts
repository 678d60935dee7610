import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { AudienceDefinition, EvaluationConfig } from '../../domain/audience.ts';
import type { StoredEvent } from '../../domain/event.ts';
import { E1, E2, E3, E4, E5, E6, E7, E8, E9, E9B, E10, E10S, E11, E12 } from '../fixtures/examples.ts';
import { parseAudience } from '../validate.ts';
import {
  compareDeviceIds,
  compileAudience,
  evaluateAudience,
  evaluateUser,
  membersAt,
  type EvaluationResult,
} from './evaluate.ts';
import { ev, micros, resetSeq, specConfig } from '../../../test/helpers/audience-events.ts';
import { EXAMPLE_HISTORIES } from '../../../test/helpers/example-histories.ts';

// ---------------------------------------------------------------------------------------------
// Helpers

type Json = Record<string, unknown>;

function def(json: unknown): AudienceDefinition {
  return parseAudience(structuredClone(json));
}

/** A spec fixture with edits applied to a mutable copy. */
function variant(json: unknown, edit: (j: any) => void): AudienceDefinition {
  const copy = structuredClone(json);
  edit(copy);
  return parseAudience(copy);
}

function evaluate(
  d: AudienceDefinition,
  events: StoredEvent[],
  now: string,
  cfg = specConfig(),
): EvaluationResult {
  return evaluateAudience(d, events, micros(now), cfg);
}

function members(d: AudienceDefinition, events: StoredEvent[], now: string, cfg = specConfig()): string[] {
  return membersAt(evaluate(d, events, now, cfg), micros(now));
}

const ACROSS = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';
const SESSION = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const EVENT = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';

const cnf = (...groups: Json[][]): Json => ({
  andGroup: { filterExpressions: groups.map((g) => ({ orGroup: { filterExpressions: g } })) },
});
const evf = (eventName: string, ...params: Json[]): Json => ({
  eventFilter: params.length
    ? { eventName, eventParameterFilterExpression: { andGroup: { filterExpressions: params } } }
    : { eventName },
});
const dim = (fieldName: string, filter: Json, flags: Json = {}): Json => ({
  dimensionOrMetricFilter: { fieldName, ...filter, ...flags },
});
const not = (leaf: Json): Json => ({ notExpression: leaf });
const str = (matchType: string, value: string, caseSensitive?: boolean): Json => ({
  stringFilter: { matchType, value, ...(caseSensitive === undefined ? {} : { caseSensitive }) },
});
const gt = (v: number): Json => ({ numericFilter: { operation: 'GREATER_THAN', value: { doubleValue: v } } });
const simple = (clauseType: string, scope: string, filterExpression: Json): Json => ({
  clauseType,
  simpleFilter: { scope, filterExpression },
});
const audience = (filterClauses: Json[], extra: Json = {}): AudienceDefinition =>
  def({ displayName: 't', description: 't', membershipDurationDays: 30, filterClauses, ...extra });
/** One INCLUDE clause. */
const include = (scope: string, ...groups: Json[][]): AudienceDefinition =>
  audience([simple('INCLUDE', scope, cnf(...groups))]);

beforeEach(() => resetSeq());

// ---------------------------------------------------------------------------------------------
// Spec §8 worked examples

describe('worked examples E1–E12', () => {
  it('E1 purchasers: expiry, renewal, backfill', () => {
    const events = EXAMPLE_HISTORIES.E1();
    const d = def(E1);
    assert.deepEqual(members(d, events, '2024-06-10'), ['u1', 'u4']);
    assert.deepEqual(members(d, events, '2024-06-20T12:00'), ['u4']);
    assert.deepEqual(members(d, events, '2024-06-10', specConfig({ backfillDays: null })), ['u1', 'u4']);
    // u1 expires exactly at 2024-06-19T10:00 (exclusive).
    const r = evaluate(d, events, '2024-06-20T12:00');
    assert.deepEqual(
      r.intervals.filter((i) => i.userPseudoId === 'u1'),
      [{ userPseudoId: 'u1', joinedAt: micros('2024-05-20T10:00'), leftAt: micros('2024-06-19T10:00') }],
    );
    assert.deepEqual(membersAt(r, micros('2024-06-19T10:00') - 1n), ['u1', 'u4']);
    assert.deepEqual(membersAt(r, micros('2024-06-19T10:00')), ['u4']);
    // u4 is one interval, renewed on 06-05 to 07-05.
    assert.deepEqual(
      r.intervals.filter((i) => i.userPseudoId === 'u4'),
      [{ userPseudoId: 'u4', joinedAt: micros('2024-05-10'), leftAt: null }],
    );
    const later = evaluate(d, events, '2024-07-06');
    assert.deepEqual(later.intervals.filter((i) => i.userPseudoId === 'u4')[0]?.leftAt, micros('2024-07-05'));
  });

  it('E2 within the same event (and the same-session variant)', () => {
    const events = EXAMPLE_HISTORIES.E2();
    assert.deepEqual(members(def(E2), events, '2024-06-05'), ['u1', 'u3']);
    assert.deepEqual(members(def(E2), events, '2024-06-18'), []);
    const sameSession = variant(E2, (j) => (j.filterClauses[0].simpleFilter.scope = SESSION));
    assert.deepEqual(members(sameSession, events, '2024-06-05'), ['u1', 'u2', 'u3']);
  });

  it('E3 within the same session, order-free', () => {
    const events = EXAMPLE_HISTORIES.E3();
    assert.deepEqual(members(def(E3), events, '2024-06-05'), ['u1', 'u3']);
    const r = evaluate(def(E3), events, '2024-06-05');
    assert.equal(r.intervals.find((i) => i.userPseudoId === 'u3')?.joinedAt, micros('2024-06-02T09:05'));
  });

  it('E4 permanent exclusion', () => {
    const events = EXAMPLE_HISTORIES.E4();
    assert.deepEqual(members(def(E4), events, '2024-06-03T12:00'), ['u1', 'u2']);
    assert.deepEqual(members(def(E4), events, '2024-06-05'), ['u1']);
    // Even a new add_to_cart never brings u2 back.
    const more = [...events, ev('u2', 'add_to_cart', '2024-06-20')];
    assert.deepEqual(members(def(E4), more, '2024-06-21'), ['u1']);
  });

  it('E5 temporary exclusion scoped to the session', () => {
    const events = EXAMPLE_HISTORIES.E5();
    assert.deepEqual(members(def(E5), events, '2024-06-04'), ['u3']);
    assert.deepEqual(members(def(E5), events, '2024-06-07'), ['u2', 'u3']);
    const r = evaluate(def(E5), events, '2024-06-07');
    assert.deepEqual(
      r.intervals.filter((i) => i.userPseudoId === 'u2'),
      [
        { userPseudoId: 'u2', joinedAt: micros('2024-06-02T10:00'), leftAt: micros('2024-06-02T10:20') },
        { userPseudoId: 'u2', joinedAt: micros('2024-06-06T09:00'), leftAt: null },
      ],
    );
  });

  it('E6 sequence, directly followed by, within 30 minutes', () => {
    const events = EXAMPLE_HISTORIES.E6();
    assert.deepEqual(members(def(E6), events, '2024-06-03'), ['u1', 'u4']);
    assert.deepEqual(members(def(E6), events, '2024-06-10'), []);
    // page_view made adjacency-neutral: u2 qualifies too.
    const cfg = specConfig({ ignoreEventNamesForAdjacency: ['page_view'] });
    assert.deepEqual(members(def(E6), events, '2024-06-03', cfg), ['u1', 'u2', 'u4']);
    // The 30-minute limit is inclusive.
    const edge = [ev('u5', 'view_item', '2024-06-02T10:00'), ev('u5', 'add_to_cart', '2024-06-02T10:30')];
    assert.deepEqual(members(def(E6), edge, '2024-06-03'), ['u5']);
  });

  it('E7 sequence with a maximum duration across sessions', () => {
    const events = EXAMPLE_HISTORIES.E7();
    const r = evaluate(def(E7), events, '2024-06-05');
    assert.deepEqual(membersAt(r, micros('2024-06-05')), ['u1', 'u4']);
    assert.deepEqual(membersAt(r, micros('2024-05-25T12:00')), ['u1']);
    assert.deepEqual(membersAt(r, micros('2024-05-26')), ['u1', 'u4']);
    // Exactly 7 days is allowed (inclusive), 7 days + 1 µs is not.
    const edge = [
      ev('u5', 'sign_up', '2024-05-20'),
      ev('u5', 'purchase', '2024-05-27', { params: { value: 50 } }),
      ev('u6', 'sign_up', '2024-05-20'),
      ev('u6', 'purchase', micros('2024-05-27') + 1n, { params: { value: 50 } }),
    ];
    assert.deepEqual(members(def(E7), edge, '2024-06-05'), ['u5']);
  });

  it('E8 event count threshold ignores the other parameter leaves', () => {
    const events = EXAMPLE_HISTORIES.E8();
    const r = evaluate(def(E8), events, '2024-06-05');
    assert.deepEqual(membersAt(r, micros('2024-06-05')), ['u1']);
    assert.deepEqual(r.intervals, [{ userPseudoId: 'u1', joinedAt: micros('2024-05-30'), leftAt: null }]);
  });

  it('E9 sessions in any 7-day period: dynamic (A) and static (B)', () => {
    const events = EXAMPLE_HISTORIES.E9();
    const A = def(E9);
    const B = def(E9B);
    assert.deepEqual(members(A, events, '2024-05-23'), ['u1']);
    assert.deepEqual(members(B, events, '2024-05-23'), ['u1']);
    assert.deepEqual(members(A, events, '2024-06-10'), ['u2']);
    assert.deepEqual(members(B, events, '2024-06-10'), ['u1', 'u2']);
    assert.deepEqual(members(A, events, '2024-06-25'), []);
    assert.deepEqual(members(B, events, '2024-06-25'), ['u2']);
    // A: u1's window lapses at the start of 05-27 (05-20 leaves the trailing 7 days), u2's at 06-11.
    const r = evaluate(A, events, '2024-06-25');
    assert.deepEqual(r.intervals, [
      { userPseudoId: 'u1', joinedAt: micros('2024-05-22T12:00'), leftAt: micros('2024-05-27') },
      { userPseudoId: 'u2', joinedAt: micros('2024-06-09T12:00'), leftAt: micros('2024-06-11') },
    ]);
    // B: u1 expires 05-22T12:00 + 30 d.
    const rb = evaluate(B, events, '2024-06-25');
    assert.deepEqual(rb.intervals[0], {
      userPseudoId: 'u1',
      joinedAt: micros('2024-05-22T12:00'),
      leftAt: micros('2024-06-21T12:00'),
    });
  });

  it('E10 most recent interaction vs any point in time', () => {
    const events = EXAMPLE_HISTORIES.E10();
    assert.deepEqual(members(def(E10), events, '2024-06-05'), ['u2']);
    assert.deepEqual(members(def(E10S), events, '2024-06-05'), ['u1', 'u2']);
    const r = evaluate(def(E10S), events, '2024-06-27');
    assert.equal(r.intervals.find((i) => i.userPseudoId === 'u1')?.leftAt, micros('2024-06-26'));
    // Case-sensitive list: "us" does not match.
    assert.deepEqual(
      members(def(E10), [ev('u4', 'x', '2024-06-02', { geo_country_id: 'us' })], '2024-06-05'),
      [],
    );
  });

  it('E11 user property IN list AND NOT device category', () => {
    const events = EXAMPLE_HISTORIES.E11();
    const r = evaluate(def(E11), events, '2024-06-04');
    assert.deepEqual(membersAt(r, micros('2024-06-04')), ['u1', 'u4']);
    assert.deepEqual(
      r.intervals.filter((i) => i.userPseudoId === 'u5'),
      [{ userPseudoId: 'u5', joinedAt: micros('2024-05-20'), leftAt: micros('2024-06-02') }],
    );
  });

  describe('E12 lifetime revenue with an event trigger', () => {
    const events = EXAMPLE_HISTORIES.E12;

    it('AUDIENCE_JOINED: one trigger per join, with the qualifying event metadata', () => {
      const evs = events();
      const r = evaluate(def(E12), evs, '2024-06-10');
      assert.deepEqual(membersAt(r, micros('2024-06-10')), ['u1', 'u2']);
      assert.deepEqual(r.triggers, [
        {
          userPseudoId: 'u1',
          userId: 'id-1',
          eventName: 'became_high_value',
          timestamp: micros('2024-06-05T11:00'),
          gaSessionId: 8n,
          gaSessionNumber: null,
          qualifyingIngestSeq: evs[1]!.ingest_seq,
          logCondition: 'AUDIENCE_JOINED',
        },
        {
          userPseudoId: 'u2',
          userId: null,
          eventName: 'became_high_value',
          timestamp: micros('2024-06-02'),
          gaSessionId: evs[3]!.ga_session_id,
          gaSessionNumber: null,
          qualifyingIngestSeq: evs[3]!.ingest_seq,
          logCondition: 'AUDIENCE_JOINED',
        },
      ]);
    });

    it('AUDIENCE_MEMBERSHIP_RENEWED: a second trigger at the 06-08 purchase (S9)', () => {
      const d = variant(E12, (j) => (j.eventTrigger.logCondition = 'AUDIENCE_MEMBERSHIP_RENEWED'));
      const r = evaluate(d, events(), '2024-06-10');
      assert.deepEqual(membersAt(r, micros('2024-06-10')), ['u1', 'u2']);
      const u1 = r.triggers.filter((t) => t.userPseudoId === 'u1');
      assert.deepEqual(
        u1.map((t) => [t.timestamp, t.gaSessionId, t.logCondition]),
        [
          [micros('2024-06-05T11:00'), 8n, 'AUDIENCE_MEMBERSHIP_RENEWED'],
          [micros('2024-06-08T10:00'), 9n, 'AUDIENCE_MEMBERSHIP_RENEWED'],
        ],
      );
      assert.equal(r.triggers.filter((t) => t.userPseudoId === 'u2').length, 1);
    });

    it('dynamic variant: the refund removes u2', () => {
      const d = variant(E12, (j) => {
        delete j.filterClauses[0].simpleFilter.filterExpression.andGroup.filterExpressions[0].orGroup
          .filterExpressions[0].dimensionOrMetricFilter.atAnyPointInTime;
      });
      const r = evaluate(d, events(), '2024-06-10');
      assert.deepEqual(membersAt(r, micros('2024-06-10')), ['u1']);
      assert.deepEqual(
        r.intervals.filter((i) => i.userPseudoId === 'u2'),
        [{ userPseudoId: 'u2', joinedAt: micros('2024-06-02'), leftAt: micros('2024-06-03') }],
      );
    });

    it('no triggers for qualifications before createTime (backfilled members)', () => {
      const r = evaluate(
        def(E12),
        events(),
        '2024-06-10',
        specConfig({ createTimeMicros: micros('2024-06-06') }),
      );
      assert.deepEqual(membersAt(r, micros('2024-06-10')), ['u1', 'u2']);
      assert.deepEqual(r.triggers, []);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Edge cases

describe('membership duration', () => {
  const d = def(E1);
  it('rejoins after expiry: a new interval and a new JOINED trigger', () => {
    const withTrigger = variant(
      E1,
      (j) => (j.eventTrigger = { eventName: 'rejoined', logCondition: 'AUDIENCE_JOINED' }),
    );
    const events = [ev('u1', 'purchase', '2024-05-05'), ev('u1', 'purchase', '2024-06-20')];
    const r = evaluate(withTrigger, events, '2024-06-21');
    assert.deepEqual(r.intervals, [
      { userPseudoId: 'u1', joinedAt: micros('2024-05-05'), leftAt: micros('2024-06-04') },
      { userPseudoId: 'u1', joinedAt: micros('2024-06-20'), leftAt: null },
    ]);
    assert.deepEqual(
      r.triggers.map((t) => t.timestamp),
      [micros('2024-06-20')],
    );
  });

  it('a requalification exactly at expiry keeps one merged interval', () => {
    const events = [ev('u1', 'purchase', '2024-05-05'), ev('u1', 'purchase', '2024-06-04')];
    const r = evaluate(d, events, '2024-06-10');
    assert.deepEqual(r.intervals, [{ userPseudoId: 'u1', joinedAt: micros('2024-05-05'), leftAt: null }]);
  });

  it('leftAt is null only while still a member at now; expiry at now is exclusive', () => {
    const events = [ev('u1', 'purchase', '2024-05-20T10:00')];
    assert.equal(evaluate(d, events, '2024-06-19T09:00').intervals[0]?.leftAt, null);
    assert.equal(evaluate(d, events, '2024-06-19T10:00').intervals[0]?.leftAt, micros('2024-06-19T10:00'));
    assert.deepEqual(members(d, events, '2024-06-19T10:00'), []);
  });

  it('ignores events after now, before the backfill window, and audience-trigger events', () => {
    const events = [
      ev('u1', 'purchase', micros('2024-05-31T12:00') + 1n),
      ev('u2', 'purchase', micros('2024-05-02') - 1n),
      ev('u3', 'purchase', '2024-05-02'),
      ev('u4', 'purchase', '2024-05-30', { source: 'audience_trigger' }),
    ];
    assert.deepEqual(members(d, events, '2024-05-31T12:00'), ['u3']);
  });
});

describe('exclusions', () => {
  it('a temporary N-day exclusion lapses at local midnight; resuming does not renew', () => {
    const d = audience(
      [
        simple('INCLUDE', ACROSS, cnf([evf('add_to_cart')])),
        simple('EXCLUDE', ACROSS, cnf([dim('ecommercePurchases', gt(0), { inAnyNDayPeriod: 2 })])),
      ],
      { exclusionDurationMode: 'EXCLUDE_TEMPORARILY' },
    );
    const events = [ev('u1', 'add_to_cart', '2024-06-02T10:00'), ev('u1', 'purchase', '2024-06-03T15:00')];
    const r = evaluate(d, events, '2024-07-10');
    // Excluded from the purchase until the start of 06-05 (06-03 leaves the trailing 2 days);
    // the original expiry (06-02T10:00 + 30 d) still applies.
    assert.deepEqual(r.intervals, [
      { userPseudoId: 'u1', joinedAt: micros('2024-06-02T10:00'), leftAt: micros('2024-06-03T15:00') },
      { userPseudoId: 'u1', joinedAt: micros('2024-06-05'), leftAt: micros('2024-07-02T10:00') },
    ]);
  });

  it('a temporary event-scope exclusion covers only the time until the next event', () => {
    const d = audience(
      [simple('INCLUDE', ACROSS, cnf([evf('visit')])), simple('EXCLUDE', EVENT, cnf([evf('logout')]))],
      { exclusionDurationMode: 'EXCLUDE_TEMPORARILY' },
    );
    const events = [
      ev('u1', 'visit', '2024-06-02T10:00'),
      ev('u1', 'logout', '2024-06-02T11:00'),
      ev('u1', 'ping', '2024-06-02T12:00'),
    ];
    assert.deepEqual(evaluate(d, events, '2024-06-03').intervals, [
      { userPseudoId: 'u1', joinedAt: micros('2024-06-02T10:00'), leftAt: micros('2024-06-02T11:00') },
      { userPseudoId: 'u1', joinedAt: micros('2024-06-02T12:00'), leftAt: null },
    ]);
  });

  it('a sequence as a permanent exclusion', () => {
    const d = audience(
      [
        simple('INCLUDE', ACROSS, cnf([evf('visit')])),
        {
          clauseType: 'EXCLUDE',
          sequenceFilter: {
            scope: ACROSS,
            sequenceSteps: [
              { scope: EVENT, filterExpression: cnf([evf('a')]) },
              { scope: EVENT, filterExpression: cnf([evf('b')]) },
            ],
          },
        },
      ],
      { exclusionDurationMode: 'EXCLUDE_PERMANENTLY' },
    );
    const events = [
      ev('u1', 'visit', '2024-06-02'),
      ev('u1', 'b', '2024-06-03'),
      ev('u1', 'a', '2024-06-04'),
      ev('u2', 'visit', '2024-06-02'),
      ev('u2', 'a', '2024-06-03'),
      ev('u2', 'b', '2024-06-04'),
      ev('u2', 'visit', '2024-06-05'),
    ];
    assert.deepEqual(members(d, events, '2024-06-06'), ['u1']);
  });
});

describe('static vs dynamic', () => {
  it('a dynamic dimension leaves on a non-matching latest event and rejoins on the next match', () => {
    const d = include(ACROSS, [dim('countryId', { inListFilter: { values: ['US'] } })]);
    const events = [
      ev('u1', 'x', '2024-06-02', { geo_country_id: 'us' }),
      ev('u1', 'x', '2024-06-03', { geo_country_id: 'CA' }),
      ev('u1', 'x', '2024-06-04', { geo_country_id: 'US' }),
    ];
    assert.deepEqual(evaluate(d, events, '2024-06-05').intervals, [
      { userPseudoId: 'u1', joinedAt: micros('2024-06-02'), leftAt: micros('2024-06-03') },
      { userPseudoId: 'u1', joinedAt: micros('2024-06-04'), leftAt: null },
    ]);
  });

  it('a dynamic N-day dimension holds while any event of the window matches', () => {
    const d = include(ACROSS, [
      dim('countryId', { inListFilter: { values: ['US'] } }, { inAnyNDayPeriod: 3 }),
    ]);
    const events = [
      ev('u1', 'x', '2024-06-02T23:00', { geo_country_id: 'US' }),
      ev('u1', 'x', '2024-06-03', { geo_country_id: 'CA' }),
    ];
    assert.deepEqual(evaluate(d, events, '2024-06-10').intervals, [
      { userPseudoId: 'u1', joinedAt: micros('2024-06-02T23:00'), leftAt: micros('2024-06-05') },
    ]);
  });

  it('a dynamic metric (eventValue across all sessions) is re-checked at each event', () => {
    const d = include(ACROSS, [dim('eventValue', gt(10))]);
    const events = [
      ev('u1', 'x', '2024-06-02', { params: { value: 20 } }),
      ev('u1', 'x', '2024-06-03', { params: { value: -15 } }),
      ev('u1', 'x', '2024-06-04', { params: { value: 6 } }),
    ];
    assert.deepEqual(evaluate(d, events, '2024-06-05').intervals, [
      { userPseudoId: 'u1', joinedAt: micros('2024-06-02'), leftAt: micros('2024-06-03') },
      { userPseudoId: 'u1', joinedAt: micros('2024-06-04'), leftAt: null },
    ]);
  });

  it('a static N-day metric needs some window of N calendar days to pass', () => {
    const d = include(ACROSS, [dim('eventCount', gt(2), { inAnyNDayPeriod: 2, atAnyPointInTime: true })]);
    const spread = [
      ev('u1', 'x', '2024-06-02'),
      ev('u1', 'x', '2024-06-03T12:00'),
      ev('u1', 'x', '2024-06-04T23:00'),
    ];
    const tight = [
      ev('u2', 'x', '2024-06-02'),
      ev('u2', 'x', '2024-06-03T12:00'),
      ev('u2', 'x', '2024-06-03T23:59'),
    ];
    assert.deepEqual(members(d, [...spread, ...tight], '2024-06-20'), ['u2']);
  });
});

describe('time zones', () => {
  it('N-day windows follow local days across the spring DST change (America/Los_Angeles)', () => {
    const cfg = specConfig({ timeZone: 'America/Los_Angeles', createTimeMicros: micros('2024-03-15') });
    const d1 = include(ACROSS, [
      dim('countryId', { inListFilter: { values: ['US'] } }, { inAnyNDayPeriod: 1 }),
    ]);
    // 23:30 PST on 03-09 = 07:30Z on 03-10; the local day 03-10 starts 08:00Z.
    const e1 = [ev('u1', 'x', '2024-03-10T07:30Z', { geo_country_id: 'US' })];
    assert.deepEqual(evaluate(d1, e1, '2024-03-12', cfg).intervals, [
      { userPseudoId: 'u1', joinedAt: micros('2024-03-10T07:30Z'), leftAt: micros('2024-03-10T08:00Z') },
    ]);
    // Noon PDT on 03-10 (19:00Z); N=2 lapses at the start of 03-12 local = 07:00Z (PDT).
    const d2 = include(ACROSS, [
      dim('countryId', { inListFilter: { values: ['US'] } }, { inAnyNDayPeriod: 2 }),
    ]);
    const e2 = [ev('u1', 'x', '2024-03-10T12:00-07:00', { geo_country_id: 'US' })];
    assert.deepEqual(evaluate(d2, e2, '2024-03-13', cfg).intervals, [
      { userPseudoId: 'u1', joinedAt: micros('2024-03-10T19:00Z'), leftAt: micros('2024-03-12T07:00Z') },
    ]);
    // Same events in UTC: the day of 07:30Z is 03-10, so the window lasts until 03-11T00:00Z.
    assert.deepEqual(
      evaluate(d1, e1, '2024-03-12', { ...cfg, timeZone: 'UTC' }).intervals[0]?.leftAt,
      micros('2024-03-11'),
    );
  });

  it('fall-back day is 25 hours long (America/Los_Angeles, 2024-11-03)', () => {
    const cfg = specConfig({ timeZone: 'America/Los_Angeles', createTimeMicros: micros('2024-11-10') });
    const d = include(ACROSS, [dim('eventCount', gt(1), { inAnyNDayPeriod: 1 })]);
    // 00:30 PDT (07:30Z) and 23:30 PST (07:30Z next UTC day) are both on local 11-03.
    const events = [ev('u1', 'x', '2024-11-03T07:30Z'), ev('u1', 'x', '2024-11-04T07:30Z')];
    assert.deepEqual(evaluate(d, events, '2024-11-06', cfg).intervals, [
      { userPseudoId: 'u1', joinedAt: micros('2024-11-04T07:30Z'), leftAt: micros('2024-11-04T08:00Z') },
    ]);
  });
});

describe('string matching', () => {
  const page = (u: string, loc: string, t = '2024-06-02'): StoredEvent =>
    ev(u, 'page_view', t, { params: { page_location: loc } });

  it('FULL_REGEXP is an anchored RE2 match; case-insensitive via the i flag', () => {
    const ci = include(EVENT, [dim('pagePath', str('FULL_REGEXP', '/item/\\d+'))]);
    const cs = include(EVENT, [dim('pagePath', str('FULL_REGEXP', '/item/\\d+', true))]);
    const events = [
      page('u1', 'https://x.com/item/42'),
      page('u2', 'https://x.com/item/42/reviews'),
      page('u3', 'https://x.com/ITEM/7'),
      page('u4', 'https://x.com/a/item/42'),
    ];
    assert.deepEqual(members(ci, events, '2024-06-03'), ['u1', 'u3']);
    assert.deepEqual(members(cs, events, '2024-06-03'), ['u1']);
    // Alternation stays inside the anchors.
    const alt = include(EVENT, [dim('customEvent:k', str('FULL_REGEXP', 'a|b'))]);
    const altEvents = [
      ev('u1', 'x', '2024-06-02', { params: { k: 'ab' } }),
      ev('u2', 'x', '2024-06-02', { params: { k: 'b' } }),
    ];
    assert.deepEqual(members(alt, altEvents, '2024-06-03'), ['u2']);
  });

  it('a pattern cannot escape the anchoring wrapper', () => {
    const d: AudienceDefinition = {
      ...include(EVENT, [dim('customEvent:k', str('EXACT', 'x'))]),
    };
    const leaf =
      d.filterClauses[0]!.simpleFilter!.filterExpression.andGroup!.filterExpressions[0]!.orGroup!
        .filterExpressions[0]!.dimensionOrMetricFilter!;
    leaf.stringFilter = { matchType: 'FULL_REGEXP', value: 'x)|(.*', caseSensitive: true };
    assert.throws(() => compileAudience(d));
  });

  it('case sensitivity: simple lower-casing on both sides', () => {
    const ci = include(EVENT, [dim('customEvent:k', str('EXACT', 'ÄBC'))]);
    const cs = include(EVENT, [dim('customEvent:k', str('EXACT', 'ÄBC', true))]);
    const events = [
      ev('u1', 'x', '2024-06-02', { params: { k: 'äbc' } }),
      ev('u2', 'x', '2024-06-02', { params: { k: 'ÄBC' } }),
    ];
    assert.deepEqual(members(ci, events, '2024-06-03'), ['u1', 'u2']);
    assert.deepEqual(members(cs, events, '2024-06-03'), ['u2']);
    // Not full case folding: ß does not equal SS.
    const fold = include(EVENT, [dim('customEvent:k', str('EXACT', 'STRASSE'))]);
    assert.deepEqual(
      members(fold, [ev('u1', 'x', '2024-06-02', { params: { k: 'straße' } })], '2024-06-03'),
      [],
    );
  });

  it('hostile strings are matched literally', () => {
    const hostile = [
      `it's "quoted"`,
      '100%_off',
      '.*+?^${}()|[]\\',
      'nul\u0000byte',
      `${'ü'.repeat(400)}😀${'界'.repeat(400)}`,
      "'; DROP TABLE events; --",
    ];
    for (const [i, value] of hostile.entries()) {
      for (const matchType of ['EXACT', 'CONTAINS', 'BEGINS_WITH', 'ENDS_WITH']) {
        const d = include(EVENT, [dim('customEvent:k', str(matchType, value, true))]);
        const events = [
          ev('hit', 'x', '2024-06-02', {
            params: {
              k: `${matchType === 'ENDS_WITH' || matchType === 'CONTAINS' ? 'pre' : ''}${value}${matchType === 'BEGINS_WITH' || matchType === 'CONTAINS' ? 'post' : ''}`,
            },
          }),
          // Wildcard-like readings of the value must not match.
          ev('miss', 'x', '2024-06-02', {
            params: { k: value.replace(/./u, 'Z').replace(/%|_|\.|\*/g, 'Q') },
          }),
        ];
        assert.deepEqual(members(d, events, '2024-06-03'), ['hit'], `${matchType} #${i}`);
      }
    }
    // The same values in an IN list.
    const d = include(EVENT, [
      dim('customEvent:k', { inListFilter: { values: hostile, caseSensitive: true } }),
    ]);
    const events = hostile.map((v, i) => ev(`u${i}`, 'x', '2024-06-02', { params: { k: v } }));
    events.push(ev('zz', 'x', '2024-06-02', { params: { k: '100%Xoff' } }));
    assert.equal(members(d, events, '2024-06-03').length, hostile.length);
  });

  it('numeric filters on string values parse plain decimals only', () => {
    const d = include(EVENT, [dim('customEvent:n', gt(5))]);
    const events = [
      ev('u1', 'x', '2024-06-02', { params: { n: '6.5' } }),
      ev('u2', 'x', '2024-06-02', { params: { n: '0x10' } }),
      ev('u3', 'x', '2024-06-02', { params: { n: 7n } }),
      ev('u4', 'x', '2024-06-02', { params: { n: ' 9' } }),
    ];
    assert.deepEqual(members(d, events, '2024-06-03'), ['u1', 'u3']);
  });
});

describe('missing values and NOT', () => {
  it('a missing param makes a leaf false and its NOT true', () => {
    const pos = include(EVENT, [evf('x', dim('color', str('EXACT', 'red')))]);
    const neg = include(EVENT, [evf('x', not(dim('color', str('EXACT', 'red'))))]);
    const events = [
      ev('u1', 'x', '2024-06-02', { params: { color: 'red' } }),
      ev('u2', 'x', '2024-06-02', { params: { color: 'blue' } }),
      ev('u3', 'x', '2024-06-02'),
    ];
    assert.deepEqual(members(pos, events, '2024-06-03'), ['u1']);
    assert.deepEqual(members(neg, events, '2024-06-03'), ['u2', 'u3']);
  });

  it('NOT of a dynamic dimension is judged on the latest event', () => {
    const d = include(ACROSS, [evf('signup')], [not(dim('deviceCategory', str('EXACT', 'mobile')))]);
    const events = [
      ev('u1', 'signup', '2024-06-02', { device_category: 'mobile' }),
      ev('u1', 'ping', '2024-06-03'), // no device: NOT(missing) is true, but ping matches no positive leaf
      ev('u1', 'signup', '2024-06-04', { device_category: 'desktop' }),
    ];
    // The clause first holds at the 06-03 ping (it made it true), so u1 joins there.
    assert.deepEqual(evaluate(d, events, '2024-06-05').intervals, [
      { userPseudoId: 'u1', joinedAt: micros('2024-06-03'), leftAt: null },
    ]);
  });
});

describe('items', () => {
  it('item conditions hold when any item of the event matches', () => {
    const d = include(EVENT, [evf('purchase', dim('itemCategory', str('EXACT', 'shoes')))]);
    const color = include(EVENT, [evf('purchase', dim('customItem:color', str('EXACT', 'red')))]);
    const price = include(EVENT, [evf('purchase', dim('customItem:price', gt(100)))]);
    const events = [
      ev('u1', 'purchase', '2024-06-02', {
        items: [
          { item_id: 'a', item_category: 'hats', price: 150 },
          { item_id: 'b', item_category: 'Shoes', item_params: { color: { string_value: 'red' } } },
        ],
      }),
      ev('u2', 'purchase', '2024-06-02', {
        items: [{ item_id: 'c', item_category: 'bags', item_params: { color: { string_value: 'blue' } } }],
      }),
      ev('u3', 'purchase', '2024-06-02'),
    ];
    assert.deepEqual(members(d, events, '2024-06-03'), ['u1']);
    assert.deepEqual(members(color, events, '2024-06-03'), ['u1']);
    assert.deepEqual(members(price, events, '2024-06-03'), ['u1']);
  });
});

describe('sequences', () => {
  const seq = (scope: string, steps: Json[], extra: Json = {}): AudienceDefinition =>
    audience([{ clauseType: 'INCLUDE', sequenceFilter: { scope, sequenceSteps: steps, ...extra } }]);

  it('sequence scope WITHIN_SAME_SESSION keeps every anchor in one session', () => {
    const d = seq(SESSION, [
      { scope: EVENT, filterExpression: cnf([evf('a')]) },
      { scope: EVENT, filterExpression: cnf([evf('b')]) },
    ]);
    const events = [
      ev('u1', 'a', '2024-06-02T10:00', { session: 1 }),
      ev('u1', 'b', '2024-06-02T10:05', { session: 2 }),
      ev('u2', 'a', '2024-06-02T10:00', { session: 1 }),
      ev('u2', 'x', '2024-06-02T10:01', { session: 2 }),
      ev('u2', 'b', '2024-06-02T10:05', { session: 1 }),
    ];
    assert.deepEqual(members(d, events, '2024-06-03'), ['u2']);
  });

  it('a session-scoped step uses only its own range after the previous anchor', () => {
    const d = seq(ACROSS, [
      { scope: EVENT, filterExpression: cnf([evf('a')]) },
      { scope: SESSION, filterExpression: cnf([evf('b')], [evf('c')]) },
    ]);
    const events = [
      // u1: c precedes a, so step 1 lacks c in (a, …].
      ev('u1', 'c', '2024-06-02T10:00', { session: 1 }),
      ev('u1', 'a', '2024-06-02T10:01', { session: 1 }),
      ev('u1', 'b', '2024-06-02T10:02', { session: 1 }),
      // u2: both after a, in one session.
      ev('u2', 'a', '2024-06-02T10:00', { session: 1 }),
      ev('u2', 'c', '2024-06-02T10:01', { session: 2 }),
      ev('u2', 'b', '2024-06-02T10:02', { session: 2 }),
      // u3: after a but in different sessions.
      ev('u3', 'a', '2024-06-02T10:00', { session: 1 }),
      ev('u3', 'c', '2024-06-02T10:01', { session: 2 }),
      ev('u3', 'b', '2024-06-02T10:02', { session: 3 }),
    ];
    const r = evaluate(d, events, '2024-06-03');
    assert.deepEqual(membersAt(r, micros('2024-06-03')), ['u2']);
    assert.equal(r.intervals[0]?.joinedAt, micros('2024-06-02T10:02'));
  });

  it('every later completion renews; the max-duration check keeps the latest start', () => {
    const d = seq(
      ACROSS,
      [
        { scope: EVENT, filterExpression: cnf([evf('a')]) },
        { scope: EVENT, filterExpression: cnf([evf('b')]) },
      ],
      { sequenceMaximumDuration: '3600s' },
    );
    const events = [
      ev('u1', 'a', '2024-06-01T08:00'),
      ev('u1', 'a', '2024-06-01T10:00'),
      ev('u1', 'b', '2024-06-01T10:30'), // chain from the 10:00 a
      ev('u1', 'b', '2024-06-05T10:30'), // too late for any a
    ];
    const custom = { ...d, membershipDurationDays: 1 };
    assert.deepEqual(evaluate(custom, events, '2024-06-06').intervals, [
      { userPseudoId: 'u1', joinedAt: micros('2024-06-01T10:30'), leftAt: micros('2024-06-02T10:30') },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// API properties

describe('API', () => {
  it('compareDeviceIds orders by UTF-8 bytes (code points), not UTF-16 units', () => {
    const ids = ['b', '\uFFFF', '😀', 'a', 'ab', '', 'é'];
    assert.deepEqual([...ids].sort(compareDeviceIds), ['', 'a', 'ab', 'b', 'é', '\uFFFF', '😀']);
    const bytes = [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual([...ids].sort(compareDeviceIds), bytes);
  });

  it('evaluateUser with a precompiled audience equals evaluateAudience', () => {
    const events = [ev('u1', 'purchase', '2024-05-20'), ev('u1', 'purchase', '2024-06-02')];
    const d = def(E1);
    const now = micros('2024-06-10');
    assert.deepEqual(
      evaluateUser(d, events, now, specConfig(), compileAudience(d)),
      evaluateAudience(d, events, now, specConfig()),
    );
  });

  it('is causal: looking back into a later evaluation equals evaluating then (randomized)', () => {
    const defs = [
      def(E1),
      def(E3),
      def(E5),
      def(E9),
      def(E9B),
      def(E10),
      def(E11),
      variant(E12, (j) => {
        delete j.filterClauses[0].simpleFilter.filterExpression.andGroup.filterExpressions[0].orGroup
          .filterExpressions[0].dimensionOrMetricFilter.atAnyPointInTime;
      }),
    ];
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const names = ['purchase', 'refund', 'add_to_cart', 'begin_checkout', 'page_view'];
    const base = micros('2024-05-01');
    const events: StoredEvent[] = [];
    for (let i = 0; i < 300; i++) {
      const user = `u${rand(12)}`;
      events.push(
        ev(
          user,
          names[rand(names.length)]!,
          base + BigInt(rand(60 * 24)) * 3_600_000_000n + BigInt(rand(1000)),
          {
            session: rand(6),
            params: { value: rand(80) },
            geo_country_id: rand(2) ? 'US' : 'CA',
            device_category: rand(2) ? 'mobile' : 'desktop',
            userProps: rand(3) ? { plan: rand(2) ? 'pro' : 'free' } : {},
          },
        ),
      );
    }
    const cfg: EvaluationConfig = specConfig({ backfillDays: null });
    const end = micros('2024-07-15');
    for (const d of defs) {
      const full = evaluateAudience(d, events, end, cfg);
      for (let i = 0; i < 12; i++) {
        const t = base + BigInt(rand(75 * 24)) * 3_600_000_000n + BigInt(rand(3_600_000_000));
        assert.deepEqual(
          membersAt(full, t),
          membersAt(evaluateAudience(d, events, t, cfg), t),
          `${d.displayName} at ${t}`,
        );
      }
    }
  });
});
