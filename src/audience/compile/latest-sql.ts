// Closed forms at the user's latest event L (the commonest GA4 shapes, cheaper than the per-event
// state of events-sql.ts): no window functions, one GROUP BY over the events younger than the
// membership cutoff plus, for session exclusions, one over the sessions.
//
// - INCLUDE side, either (a) every INCLUDE clause is across all sessions with only non-negated
//   dynamic dimension leaves: then A at an event depends on that event alone, and an event where A
//   holds qualifies (each group's true leaf is a positive match), so a member is a user whose latest
//   event L satisfies A and is younger than the cutoff; or (b) one INCLUDE clause of the static
//   closed forms (members-sql.ts compileByQualifyingEvents: it holds for good once it holds).
// - Temporary EXCLUDE clauses, judged at L (D15): WITHIN_SAME_EVENT: L satisfies it;
//   WITHIN_SAME_SESSION with event-level leaves: L's session satisfies it (latched leaves, so the
//   whole session up to asOf); across all sessions with static leaves: it ever held.
// - Permanent EXCLUDE clauses with static leaves: it ever held.
// In every case a member's L is younger than the cutoff (it is, or follows, the last qualifying
// event), so the latest-event scan reads only the events after the cutoff.

import type { AudienceDefinition, FilterClause, FilterExpression } from '../../domain/audience.ts';
import { resolveField } from '../fields.ts';
import type { SqlDialect } from './dialect.ts';
import { EventPredicateCompiler } from './leaves.ts';
import { MembersSqlCompiler, qualifiesByPositiveMatches } from './members-sql.ts';
import { isSqlClause } from './plan.ts';
import { and, ident, join, or, param, sql, type Fragment } from './sql.ts';
import { groupsOf } from './walk.ts';
import { MICROS_PER_DAY, eventWindow, type QueryContext } from './window.ts';

const EVENT = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
const SESSION = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const ACROSS = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';

/** A non-negated dimension leaf (not an item) at the latest event: dynamic, no N-day window. */
function isDynamicDimension(e: FilterExpression): boolean {
  const f = e.dimensionOrMetricFilter;
  if (!f || f.atAnyPointInTime || f.inAnyNDayPeriod !== undefined) return false;
  const ref = resolveField(f.fieldName, 'condition');
  return ref !== null && ref.kind === 'dimension' && !('item' in ref);
}

function isPointwise(c: FilterClause): boolean {
  const f = c.simpleFilter;
  return (
    f !== undefined && f.scope === ACROSS && groupsOf(f.filterExpression).flat().every(isDynamicDimension)
  );
}

/** Whether the audience has a latest-event closed form (see the file comment). */
export function hasLatestEventForm(def: AudienceDefinition): boolean {
  const includes = def.filterClauses.filter((c) => c.clauseType === 'INCLUDE');
  const excludes = def.filterClauses.filter((c) => c.clauseType === 'EXCLUDE');
  const pointwise = includes.every(isPointwise);
  const single =
    includes.length === 1 && isSqlClause(includes[0]!) && qualifiesByPositiveMatches(includes[0]!);
  if (!pointwise && !single) return false;
  // Static closed-form clauses only (isSqlClause: event-level leaves, growing counts across sessions).
  return excludes.every((c) => c.simpleFilter !== undefined && isSqlClause(c));
}

export class LatestEventCompiler {
  private readonly leaf: EventPredicateCompiler;
  private readonly closed: MembersSqlCompiler;

  constructor(
    private readonly dialect: SqlDialect,
    private readonly def: AudienceDefinition,
    private readonly ctx: QueryContext,
  ) {
    this.leaf = new EventPredicateCompiler(dialect, { singleEventMetrics: true });
    this.closed = new MembersSqlCompiler(dialect, def, ctx);
  }

  compile(): Fragment {
    const d = this.dialect;
    const cutoff = param(this.ctx.asOfMicros - BigInt(this.def.membershipDurationDays) * MICROS_PER_DAY);
    const temporary = this.def.exclusionDurationMode !== 'EXCLUDE_PERMANENTLY';
    const clauses = this.def.filterClauses.map((c, i) => ({ c, i }));
    const includes = clauses.filter((x) => x.c.clauseType === 'INCLUDE');
    const pointwise = includes.every((x) => isPointwise(x.c));
    const ctes: Fragment[] = [];
    const pos = d.streamPosition(sql`event_timestamp`, sql`ingest_seq`);
    const latestCols: Fragment[] = [sql`user_pseudo_id AS u`];
    if (temporary && clauses.some((x) => x.c.clauseType === 'EXCLUDE' && x.c.simpleFilter?.scope === SESSION))
      latestCols.push(
        sql`COALESCE(${d.argMaxKeepNull(sql`ga_session_id`, pos)}, 0) AS ks`,
        // D3: a null session is a session of its own, keyed by the event's ingest_seq.
        sql`${d.argMax(sql`CASE WHEN ga_session_id IS NULL THEN ingest_seq ELSE 0 END`, pos)} AS kq`,
      );
    const where: Fragment[] = [];
    const joins: Fragment[] = [];
    if (pointwise) {
      const a = and(includes.map((x) => this.visitGroups(x.c)));
      latestCols.push(sql`${d.argMax(a, pos)} AS a`);
      where.push(sql`a`);
    } else {
      const x = includes[0]!;
      joins.push(
        sql`JOIN (${this.closed.visitClauseUsers(x.c, x.i, cutoff, ctes)}) AS ${ident(`c${x.i}`)} USING (u)`,
      );
    }
    for (const x of clauses) {
      if (x.c.clauseType !== 'EXCLUDE') continue;
      const scope = x.c.simpleFilter!.scope;
      const alias = ident(`c${x.i}`);
      if (temporary && scope === EVENT) {
        const name = ident(`x${x.i}`);
        latestCols.push(sql`${d.argMax(this.visitGroups(x.c), pos)} AS ${name}`);
        where.push(sql`NOT ${name}`);
      } else if (temporary && scope === SESSION) {
        ctes.push(sql`${alias} AS (${this.satisfiedSessions(x.c)})`);
        joins.push(d.antiJoin(sql`SELECT * FROM ${alias}`, ident(`x${x.i}`), [sql`u`, sql`ks`, sql`kq`]));
      } else {
        joins.push(d.antiJoin(this.closed.visitClauseUsers(x.c, x.i, null, ctes), alias, [sql`u`]));
      }
    }
    const latest = eventWindow(this.ctx, join(latestCols, ', '), sql`event_timestamp > ${cutoff}`);
    ctes.push(sql`latest AS (${latest} GROUP BY u)`);
    const body = joins.length === 0 ? sql`latest` : sql`latest\n${join(joins, '\n')}`;
    const filter = where.length === 0 ? sql`` : sql`\nWHERE ${join(where, ' AND ')}`;
    return sql`WITH ${join(ctes, ',\n')}
SELECT u FROM ${body}${filter}
ORDER BY u`;
  }

  visitGroups(c: FilterClause): Fragment {
    return and(
      groupsOf(c.simpleFilter!.filterExpression).map((g) => or(g.map((e) => this.leaf.visitExpression(e)))),
    );
  }

  /** Sessions (u, ks, kq) in which every group has a leaf matched by some event (D10, latched). */
  satisfiedSessions(c: FilterClause): Fragment {
    const groups = groupsOf(c.simpleFilter!.filterExpression);
    const flags = groups.map((g, k) =>
      g.map((e, j) => ({ name: ident(`g${k}_${j}`), expr: this.leaf.visitExpression(e) })),
    );
    const all = flags.flat();
    const scan = eventWindow(
      this.ctx,
      join(
        [
          sql`user_pseudo_id AS u`,
          sql`COALESCE(ga_session_id, 0) AS ks`,
          sql`CASE WHEN ga_session_id IS NULL THEN ingest_seq ELSE 0 END AS kq`,
          ...all.map((f) => sql`${f.expr} AS ${f.name}`),
        ],
        ', ',
      ),
      or(all.map((f) => f.expr)),
    );
    const having = and(flags.map((g) => or(g.map((f) => this.dialect.boolOr(f.name)))));
    return sql`SELECT u, ks, kq FROM (${scan}) GROUP BY u, ks, kq HAVING ${having}`;
  }
}
