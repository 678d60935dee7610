// The statements of one trigger-logger pass over one property (docs/audiences.md §2.7). Every
// statement is restricted to the pass's users: those with a non-trigger event ingested in (W, H].
// A pass therefore reads those users' rows only, whatever the size of the property.
//
// Where the triggers come from. A trigger needs, per qualifying event, whether the user is a member
// just after it and (AUDIENCE_JOINED) just before it. For every audience on the SQL plan one
// statement gives exactly those events: the qualifying events themselves when every match
// qualifies (sql-triggers.ts), otherwise the compiled per-event state of the members query with
// "member just before / after" as window columns (EventStateCompiler.compileTriggers). Only the
// hybrid plan's audiences fold the pass's users' histories with the reference evaluator.
//
// Only the new part of a history. A trigger at an event depends only on the events up to it in
// stream order. The events of a pass user before its first new one (ingest_seq > W) all have
// ingest_seq <= W, and the earlier pass that stored the last of them saw all of them: it judged
// each of them with its whole prefix. So, for an audience whose trigger that pass already had,
// the statement returns triggers only at the user's events from its first new one on (with
// stream order and ties on the timestamp as everywhere: (event_timestamp, ingest_seq)).
//
// On ClickHouse (the 18.16 that Debian ships has no CTE over a subquery, no window functions and no
// JSON functions) the statements are spelt without CTEs, and the triggers of a SQL-plan audience
// come from its per-event state over per-user arrays (clickhouseTriggersQuery), restricted to the
// pass's users; an audience that 18.16 cannot run as one statement folds the pass's users' events
// over its evaluation window. Same triggers.

import type { AudienceDefinition } from '../../domain/audience.ts';
import { EVENT_COLUMNS } from '../../domain/event.ts';
import { planAudience, type CompiledQuery, type QueryContext } from '../compile/index.ts';
import { EventStateCompiler, eventStateUnsupported } from '../compile/events-sql.ts';
import { windowStartMicros } from '../compile/window.ts';
import { ident, join, param, sql, type Fragment, type Param } from '../compile/sql.ts';
import { QueryComposer } from '../evaluate/compose.ts';
import { compileTriggerEvents } from './sql-triggers.ts';
import { clickhouseTriggersQuery } from '../compile/clickhouse-plan.ts';
import type { QueryExecutor } from '../../storage/contract.ts';

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
   * The pass's users' qualifying events that fire a trigger (ingested after `fromSeq` when given),
   * every column, in stream order per user: no fold. For an audience whose every match qualifies,
   * from its qualifying events alone (sql-triggers.ts); for any other audience on the SQL plan,
   * from its per-event state (EventStateCompiler.compileTriggers), and with `sinceNew` only at
   * the user's events from its first new one on (see the header). Null when the audience needs
   * the fold (foldEvents): the hybrid plan, or an engine without these forms.
   */
  triggerEvents(
    def: AudienceDefinition,
    ctx: QueryContext,
    fromSeq: bigint | null,
    sinceNew = false,
  ): CompiledQuery | null {
    if (!this.ctes) {
      if (this.executor.dialect.name !== 'clickhouse') return null;
      const since = sinceNew ? this.firstNewPositions() : null;
      return clickhouseTriggersQuery(
        def,
        ctx,
        this.users(),
        { since, fromSeq },
        (rows) =>
          sql`SELECT ${ALL_COLUMNS} FROM ${this.table} WHERE property_id = ${this.property} AND (user_pseudo_id, ingest_seq) IN (${rows})${STREAM_ORDER}`,
      );
    }
    const d = this.executor.dialect;
    const scope = sql`WITH events AS (SELECT * FROM ${this.table} WHERE property_id = ${this.property} AND user_pseudo_id IN (${this.users()}))`;
    const fires = compileTriggerEvents(def, ctx, d, ALL_COLUMNS, fromSeq);
    if (fires !== null) return new QueryComposer(d).add(sql`${scope} ${fires}`).build();
    if (planAudience(def, ctx.config) !== 'sql' || eventStateUnsupported(def) !== null) return null;
    const since = sinceNew ? this.firstNewPositions() : null;
    const rows = new EventStateCompiler(d, def, ctx).compileTriggers({ since, fromSeq });
    return new QueryComposer(d)
      .add(
        sql`${scope} SELECT ${ALL_COLUMNS} FROM events JOIN (${rows}) AS fired ON fired.u = user_pseudo_id AND fired.q = ingest_seq${STREAM_ORDER}`,
      )
      .build();
  }

  /** Per pass user (nu), the stream position (npos) of its first new event. */
  private firstNewPositions(): Fragment {
    const pos = this.executor.dialect.streamPosition(sql`event_timestamp`, sql`ingest_seq`);
    const lower = this.range.lower === null ? sql`` : sql` AND event_timestamp >= ${param(this.range.lower)}`;
    return sql`SELECT user_pseudo_id AS nu, min(${pos}) AS npos FROM ${this.table} WHERE property_id = ${this.property} AND ingest_seq > ${param(this.range.after)} AND ingest_seq <= ${param(this.range.upTo)} AND source <> 'audience_trigger'${lower} GROUP BY user_pseudo_id`;
  }

  /**
   * The events to fold for one audience (the hybrid plan, or an engine without triggerEvents): its
   * candidate events (the hybrid plan's pre-filter, which applies its evaluation window and
   * ctx.maxIngestSeq) of the pass's users. `ctx.asOfMicros` must be past every event of these users.
   */
  foldEvents(def: AudienceDefinition, ctx: QueryContext): CompiledQuery {
    if (!this.ctes) return this.windowEvents(ctx);
    const q = new QueryComposer(this.executor.dialect);
    q.add(
      sql`WITH events AS (SELECT * FROM ${this.table} WHERE property_id = ${this.property} AND user_pseudo_id IN (${this.users()})) SELECT * FROM (`,
    );
    q.addAudience(def, ctx, 'hybrid');
    q.add(sql`)${STREAM_ORDER}`);
    return q.build();
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
