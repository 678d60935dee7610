// The statements of one trigger-logger pass over one property (docs/audiences.md §2.7). Every
// statement is restricted to the pass's users: those with a non-trigger event ingested in (W, H].
// A pass therefore reads those users' rows only, whatever the size of the property.
//
// Which of them are folded. The per-user fold (the reference evaluator) decides which events
// qualify and whether the user is a member right after each, which is what a trigger needs: its
// timestamp is the qualifying event's. A members query answers "who is a member as of one instant",
// not "at which events did each user join or renew", so it cannot give the timestamps. It is used
// instead as a gate: for an audience on the SQL plan, the pass folds only the users that the
// gate audience's members query returns. The gate is the audience with its EXCLUDE clauses dropped
// and the longest membership duration, evaluated as of the pass's now (past every event of these
// users). The SQL plan covers static conditions only (once true, true for good), so a user who
// was a member right after a new qualifying event at t still satisfies every INCLUDE clause at
// now, and is a member of the gate unless t is older than now − 540 days. Those users are added by
// a second condition. Users outside the gate cannot have a trigger: they are not folded.
//
// On ClickHouse (the 18.16 that Debian ships has no CTE over a subquery, no window functions and no
// JSON functions) the statements are spelt without CTEs, and the two optimisations whose SQL it
// cannot run are left out: no triggers straight from SQL (triggerEvents is null) and no gate; every
// audience folds the pass's users' events over its evaluation window. Same triggers: the gate
// and the direct form only skip work the fold would find empty.

import type { AudienceDefinition, FilterExpression, FilterScope } from '../../domain/audience.ts';
import { EVENT_COLUMNS } from '../../domain/event.ts';
import { planAudience, type CompiledQuery, type QueryContext } from '../compile/index.ts';
import { windowStartMicros } from '../compile/window.ts';
import { ident, join, param, sql, type Fragment, type Param } from '../compile/sql.ts';
import { LIMITS } from '../validate.ts';
import { QueryComposer } from '../evaluate/compose.ts';
import { compileTriggerEvents } from './sql-triggers.ts';
import type { QueryExecutor } from '../../storage/contract.ts';

const DAY_MICROS = 86_400_000_000n;
const ALL_COLUMNS = join(
  EVENT_COLUMNS.map(([name]) => ident(name)),
  ', ',
);
const STREAM_ORDER = sql` ORDER BY user_pseudo_id, event_timestamp, ingest_seq`;

/** One pass over one property: events with ingest_seq in (after, upTo], from `lower` on (µs) if set. */
export interface PassRange {
  propertyId: bigint;
  after: bigint;
  upTo: bigint;
  /** Events before every trigger audience's window cannot change a trigger. */
  lower: bigint | null;
}

export class PassQueries {
  private readonly table: Fragment;
  private readonly property: Param;

  constructor(
    private readonly executor: QueryExecutor,
    private readonly range: PassRange,
  ) {
    const [schema, name] = executor.qualifiedEventsTable;
    this.table = sql`${ident(schema)}.${ident(name)}`;
    this.property = param(range.propertyId);
  }

  /** The user_pseudo_ids of the pass: a non-trigger event in (after, upTo], inside the window. */
  private users(extra?: Fragment): Fragment {
    const lower = this.range.lower === null ? sql`` : sql` AND event_timestamp >= ${param(this.range.lower)}`;
    const more = extra === undefined ? sql`` : sql` AND ${extra}`;
    return sql`SELECT DISTINCT user_pseudo_id FROM ${this.table} WHERE property_id = ${this.property} AND ingest_seq > ${param(this.range.after)} AND ingest_seq <= ${param(this.range.upTo)} AND source <> 'audience_trigger'${lower}${more}`;
  }

  /** Whether the engine runs the CTE forms (not ClickHouse 18.16: see the header). */
  private get ctes(): boolean {
    return this.executor.dialect.name !== 'clickhouse';
  }

  /** How many users the pass has, and the latest event timestamp of their rows up to upTo. */
  summary(): CompiledQuery {
    if (!this.ctes)
      return new QueryComposer(this.executor.dialect)
        .add(
          sql`SELECT (SELECT count() FROM (${this.users()})) AS users, (SELECT max(event_timestamp) FROM ${this.table} WHERE property_id = ${this.property} AND ingest_seq <= ${param(this.range.upTo)} AND user_pseudo_id IN (${this.users()})) AS last_timestamp`,
        )
        .build();
    return new QueryComposer(this.executor.dialect)
      .add(
        sql`WITH pass_users AS (${this.users()}) SELECT (SELECT count(*) FROM pass_users) AS users, (SELECT max(event_timestamp) FROM ${this.table} WHERE property_id = ${this.property} AND ingest_seq <= ${param(this.range.upTo)} AND user_pseudo_id IN (SELECT user_pseudo_id FROM pass_users)) AS last_timestamp`,
      )
      .build();
  }

  /** The audience_trigger events already stored for the pass's users, in stream order. */
  storedTriggers(): CompiledQuery {
    return new QueryComposer(this.executor.dialect)
      .add(
        sql`SELECT ${ALL_COLUMNS} FROM ${this.table} WHERE property_id = ${this.property} AND source = 'audience_trigger' AND user_pseudo_id IN (${this.users()})${STREAM_ORDER}`,
      )
      .build();
  }

  /**
   * For an audience whose every match qualifies (sql-triggers.ts), the pass's users' qualifying
   * events that fire a trigger (ingested after `fromSeq` when given), every column, in stream
   * order per user: no fold. Null when the audience needs the fold (foldEvents).
   */
  triggerEvents(def: AudienceDefinition, ctx: QueryContext, fromSeq: bigint | null): CompiledQuery | null {
    if (!this.ctes) return null;
    const fires = compileTriggerEvents(def, ctx, this.executor.dialect, ALL_COLUMNS, fromSeq);
    if (fires === null) return null;
    return new QueryComposer(this.executor.dialect)
      .add(
        sql`WITH events AS (SELECT * FROM ${this.table} WHERE property_id = ${this.property} AND user_pseudo_id IN (${this.users()})) ${fires}`,
      )
      .build();
  }

  /**
   * The events to fold for one audience: its candidate events (the hybrid plan's pre-filter, which
   * applies its evaluation window and ctx.maxIngestSeq), for the pass's users, and on the SQL plan
   * only for the users its gate admits (see the header). `ctx.asOfMicros` must be past every
   * event of these users.
   */
  foldEvents(def: AudienceDefinition, ctx: QueryContext): { query: CompiledQuery; gated: boolean } {
    if (!this.ctes) return { query: this.windowEvents(ctx), gated: false };
    const gate = gateAudience(def);
    const q = new QueryComposer(this.executor.dialect);
    const scope = (): Fragment =>
      sql`SELECT * FROM ${this.table} WHERE property_id = ${this.property} AND user_pseudo_id IN (${this.users()})`;
    q.add(sql`WITH events AS (${scope()}`);
    if (gate) {
      const old = ctx.asOfMicros - BigInt(LIMITS.maxMembershipDurationDays) * DAY_MICROS;
      q.add(sql` AND (user_pseudo_id IN (SELECT * FROM (WITH events AS (${scope()}) SELECT * FROM (`);
      q.addAudience(gate, ctx, 'sql');
      q.add(sql`))) OR user_pseudo_id IN (${this.users(sql`event_timestamp <= ${param(old)}`)}))`);
    }
    q.add(sql`) SELECT * FROM (`);
    q.addAudience(def, ctx, 'hybrid');
    q.add(sql`)${STREAM_ORDER}`);
    return { query: q.build(), gated: gate !== null };
  }

  /** The pass's users' events in the evaluation window (eventWindow's conditions), in stream order. */
  private windowEvents(ctx: QueryContext): CompiledQuery {
    const start = windowStartMicros(ctx.config);
    const lower = start === null ? sql`` : sql` AND event_timestamp >= ${param(start)}`;
    const upper = ctx.maxIngestSeq === undefined ? sql`` : sql` AND ingest_seq <= ${param(ctx.maxIngestSeq)}`;
    return new QueryComposer(this.executor.dialect)
      .add(
        sql`SELECT ${ALL_COLUMNS} FROM ${this.table} WHERE property_id = ${this.property}${lower} AND event_timestamp <= ${param(ctx.asOfMicros)}${upper} AND source <> 'audience_trigger' AND user_pseudo_id IN (${this.users()})${STREAM_ORDER}`,
      )
      .build();
  }
}

/**
 * The gate of an audience on the SQL plan (see the header), or null when it has none. The gate is
 * sound only when every INCLUDE clause, once true, stays true. The planner's SQL plan implies it
 * today; the check below states it on its own (conservatively), so that a planner that takes
 * dynamic constructs onto the SQL plan makes those audiences fold every user, never lose triggers.
 */
export function gateAudience(def: AudienceDefinition): AudienceDefinition | null {
  if (planAudience(def) !== 'sql' || !includesHoldForGood(def)) return null;
  const gate: AudienceDefinition = {
    ...def,
    membershipDurationDays: LIMITS.maxMembershipDurationDays,
    filterClauses: def.filterClauses.filter((c) => c.clauseType === 'INCLUDE'),
  };
  return gate.filterClauses.length > 0 && planAudience(gate) === 'sql' ? gate : null;
}

const ACROSS: FilterScope = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';

/**
 * Every INCLUDE clause is static (docs/audiences.md §2.4): no N-day period, no dynamic leaf across
 * sessions, event counts only as "more than". Sequences complete once and stay complete.
 */
function includesHoldForGood(def: AudienceDefinition): boolean {
  return def.filterClauses.every((c) => {
    if (c.clauseType !== 'INCLUDE') return true;
    if (c.simpleFilter) return holdsForGood(c.simpleFilter.filterExpression, c.simpleFilter.scope, false);
    return (c.sequenceFilter?.sequenceSteps ?? []).every((st) =>
      holdsForGood(st.filterExpression, st.scope, false),
    );
  });
}

function holdsForGood(e: FilterExpression, scope: FilterScope, negated: boolean): boolean {
  const groups = e.andGroup?.filterExpressions ?? e.orGroup?.filterExpressions;
  if (groups) return groups.every((x) => holdsForGood(x, scope, negated));
  if (e.notExpression) return holdsForGood(e.notExpression, scope, !negated);
  const leaf = e.dimensionOrMetricFilter;
  if (leaf) return leaf.inAnyNDayPeriod === undefined && (scope !== ACROSS || leaf.atAnyPointInTime);
  const params = e.eventFilter?.eventParameterFilterExpression;
  if (!params) return e.eventFilter !== undefined;
  // Parameter leaves are judged on the event itself; an event count must only grow into truth.
  const countOk = (x: FilterExpression, neg: boolean): boolean => {
    const inner = x.andGroup?.filterExpressions ?? x.orGroup?.filterExpressions;
    if (inner) return inner.every((y) => countOk(y, neg));
    if (x.notExpression) return countOk(x.notExpression, !neg);
    const l = x.dimensionOrMetricFilter;
    if (!l || l.fieldName !== 'eventCount') return true;
    return (
      !neg && !negated && l.inAnyNDayPeriod === undefined && l.numericFilter?.operation === 'GREATER_THAN'
    );
  };
  return countOk(params, false);
}
