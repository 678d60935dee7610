// The 'sql' path (plan.ts decides which audiences take it). A member as of asOf is a user for
// whom every INCLUDE clause holds, no EXCLUDE clause ever held (permanent mode), and whose last
// qualifying event at or after the join is younger than membershipDurationDays (reference
// evaluate.ts, static conditions; D13 for which events qualify).
//
// Two shapes of query:
// - One INCLUDE clause whose qualifying events are known per event or per unit (the common case,
//   compileByQualifyingEvents): the join is that clause's first qualifying event, so a member is a
//   user with a qualifying event in (asOf - duration, asOf] (for ACROSS_ALL_SESSIONS and
//   WITHIN_SAME_SESSION clauses: and for whom the clause holds), minus the users for whom an
//   EXCLUDE clause ever held. No positions: semi-joins, DISTINCT, and per-user or per-session
//   boolean aggregates, with the timestamp window pushed into the scan where it is exact.
// - Otherwise (several INCLUDE clauses, NOT leaves across sessions or within a session): per
//   clause, each user gets `f`, the stream position at which the clause first held, and `l`, the
//   position of its last qualifying event (compileByPositions). A stream position is
//   (event_timestamp, ingest_seq) packed into one HUGEINT, so min/max give "first"/"last" in
//   stream order and ties on the timestamp keep the ingest order (or just the timestamp when no
//   two positions are compared, see exactPositions).

import type {
  AudienceDefinition,
  FilterClause,
  FilterExpression,
  SequenceFilter,
} from '../../domain/audience.ts';
import type { SqlDialect } from './dialect.ts';
import { EventPredicateCompiler, eventCountLeaf, numericValue } from './leaves.ts';
import { and, ident, join, or, param, sql, type Fragment, type Param } from './sql.ts';
import { SequenceSqlCompiler } from './sequence-sql.ts';
import { groupsOf } from './walk.ts';
import { MICROS_PER_DAY, eventWindow, type QueryContext } from './window.ts';

export interface Flag {
  name: Fragment;
  expr: Fragment;
  /** Event names outside which the flag is false (null: any event may set it). */
  names: string[] | null;
  /** The flag is exactly `event_name IN names` (no other condition). */
  plain?: boolean;
}

/**
 * A clause's SQL. 'user': its aggregates go into the shared per-user GROUP BY (`pu`) and f/l are
 * expressions over them (one scan for all such clauses). 'cte': its own CTEs, the last named c<i>
 * with columns (u, f, l), one row per user for whom it held.
 */
type ClauseSql =
  | { kind: 'user'; flags: Flag[]; aggs: Fragment[]; f: Fragment; l: Fragment }
  | { kind: 'cte'; flags: Flag[]; ctes: Fragment[] };

/** A leaf as per-user aggregates: its first true position and its last positive position. */
interface LeafAgg {
  first: Fragment;
  lastPositive: Fragment | null;
}

/** Null ga_session_id: every such event is a session of its own (reference D3). */
export const SESSION_KEY = sql`s, CASE WHEN s IS NULL THEN q END`;

/** The smallest event count that passes `eventCount > x`. */
export function countThreshold(x: number): number {
  return Math.max(0, Math.floor(x) + 1);
}

export class MembersSqlCompiler {
  private readonly leaf: EventPredicateCompiler;
  private readonly sequence: SequenceSqlCompiler;
  /**
   * Positions must order ties on the timestamp only when positions of different INCLUDE clauses
   * are compared (the join is the latest clause's first position); otherwise the timestamp alone
   * gives the same answer, and BIGINT aggregates are cheaper than HUGEINT ones.
   */
  private readonly exactPositions: boolean;

  constructor(
    private readonly dialect: SqlDialect,
    private readonly def: AudienceDefinition,
    private readonly ctx: QueryContext,
    /** Exact stream positions even with one INCLUDE clause (the per-event state compares them with its own). */
    exactPositions?: boolean,
  ) {
    this.leaf = new EventPredicateCompiler(dialect, { singleEventMetrics: true });
    this.sequence = new SequenceSqlCompiler(dialect, ctx, this.leaf);
    this.exactPositions =
      exactPositions ?? def.filterClauses.filter((c) => c.clauseType === 'INCLUDE').length > 1;
  }

  compile(): Fragment {
    return this.compileByQualifyingEvents() ?? this.compileByPositions();
  }

  // --- one INCLUDE clause: members by their qualifying events -------------------------------------

  /**
   * When the audience has one INCLUDE clause, the join is that clause's first qualifying event and
   * its qualifying events after it are known without positions when (D13):
   * - WITHIN_SAME_EVENT: an event qualifies iff it satisfies the expression;
   * - sequences: an event qualifies iff it completes the sequence;
   * - ACROSS_ALL_SESSIONS and WITHIN_SAME_SESSION without NOT leaves: once the clause (the
   *   session) holds, an event qualifies iff it matches a positive leaf, and the event at which it
   *   came to hold is one of those; so the last qualifying event is the last positive match (of a
   *   satisfied session), counting an eventCount leaf's events only when its count passes.
   * Permanent EXCLUDE clauses only ask whether they ever held. Null when this does not apply.
   */
  compileByQualifyingEvents(): Fragment | null {
    const clauses = this.def.filterClauses.map((c, i) => ({ c, i }));
    const includes = clauses.filter((x) => x.c.clauseType === 'INCLUDE');
    if (includes.length !== 1 || !qualifiesByPositiveMatches(includes[0]!.c)) return null;
    const cutoff = this.ctx.asOfMicros - BigInt(this.def.membershipDurationDays) * MICROS_PER_DAY;
    const ctes: Fragment[] = [];
    const include = includes[0]!;
    const base = sql`(${this.visitClauseUsers(include.c, include.i, param(cutoff), ctes)}) AS ${ident(`c${include.i}`)}`;
    const antiJoins = clauses
      .filter((x) => x.c.clauseType === 'EXCLUDE')
      .map((x) =>
        this.dialect.antiJoin(this.visitClauseUsers(x.c, x.i, null, ctes), ident(`c${x.i}`), [sql`u`]),
      );
    const from = antiJoins.length === 0 ? base : sql`${base}\n${join(antiJoins, '\n')}`;
    const select = sql`SELECT u FROM ${from}\nORDER BY u`;
    return ctes.length === 0 ? select : sql`WITH ${join(ctes, ',\n')}\n${select}`;
  }

  /**
   * The users (column u) for whom clause c held, and with `after`, only those with a qualifying
   * event later than `after` (no duplicates then; without `after` duplicates may remain).
   */
  visitClauseUsers(c: FilterClause, i: number, after: Param | null, ctes: Fragment[]): Fragment {
    if (c.sequenceFilter) return this.sequence.visitSequenceUsers(c.sequenceFilter, i, after, ctes);
    const f = c.simpleFilter!;
    const groups = groupsOf(f.filterExpression);
    switch (f.scope) {
      case 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT': {
        const flag: Flag = {
          name: ident(`c${i}_all`),
          expr: this.visitGroups(groups),
          names: namesOfGroups(groups),
          plain: groups.length === 1 && groups[0]!.every(isPlainEvent),
        };
        return this.visitMatchingUsers(flag, after);
      }
      case 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS':
        // One group without eventCount: the clause holds at the first match, and every match qualifies.
        if (groups.length === 1 && !groups[0]!.some(isCountLeaf)) {
          const flag: Flag = {
            name: ident(`c${i}_any`),
            expr: this.visitGroup(groups[0]!),
            names: namesOfGroups(groups),
            plain: groups[0]!.every(isPlainEvent),
          };
          return this.visitMatchingUsers(flag, after);
        }
        return this.visitUnitUsers(groups, i, after, false);
      case 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION':
        return this.visitUnitUsers(groups, i, after, true);
    }
  }

  /** Users with an event on which `flag` holds (later than `after` when given). */
  visitMatchingUsers(flag: Flag, after: Param | null): Fragment {
    const later = after === null ? [] : [sql`event_timestamp > ${after}`];
    const distinct = after === null ? sql`` : sql`DISTINCT `;
    if (flag.plain && flag.names !== null)
      return eventWindow(
        this.ctx,
        sql`${distinct}user_pseudo_id AS u`,
        and([nameFilter(flag.names), ...later]),
      );
    if (flag.names === null) {
      // Any event may match: filter on the flag itself (DuckDB pushes it into the scan).
      return eventWindow(this.ctx, sql`${distinct}user_pseudo_id AS u`, and([flag.expr, ...later]));
    }
    // The flag is judged only on the few named events, and in an aggregate, so that DuckDB does not
    // push it into the scan as an expression filter (which then reads every row's JSON).
    const scan = eventWindow(
      this.ctx,
      sql`user_pseudo_id AS u, ${flag.expr} AS ${flag.name}`,
      and([nameFilter(flag.names), ...later]),
    );
    return sql`SELECT u FROM (${scan}) GROUP BY u HAVING ${this.dialect.boolOr(flag.name)}`;
  }

  /**
   * ACROSS_ALL_SESSIONS (unit = the user's window) or WITHIN_SAME_SESSION (unit = a session): the
   * unit holds when every group has a leaf that holds in it (an event matched, or an eventCount
   * passed); with `after`, its last positive match must be later than `after`.
   */
  visitUnitUsers(
    groups: FilterExpression[][],
    i: number,
    after: Param | null,
    perSession: boolean,
  ): Fragment {
    const leaves = groups.flatMap((g, k) =>
      g.map((e, j) => {
        const name = ident(`c${i}_g${k}_${j}`);
        const count = isCountLeaf(e) ? countThresholdOf(e) : null;
        const names = e.eventFilter ? [e.eventFilter.eventName] : null;
        const expr =
          count === null
            ? this.leaf.visitExpression(e)
            : sql`event_name = ${param(e.eventFilter!.eventName)}`;
        const flag: Flag = { name, expr, names, plain: count !== null || isPlainEvent(e) };
        return { flag, group: k, count: count === null ? null : param(count), alone: g.length === 1 };
      }),
    );
    const flags = leaves.map((x) => x.flag);
    const scanNames = namesOfFlags(flags);
    /** The rows on which one of `fs` holds, as a FILTER clause (nothing when that is every scanned row). */
    const where = (fs: Flag[]): Fragment =>
      coversScan(fs, scanNames) ? sql`` : sql` FILTER (WHERE ${or(fs.map((f) => f.name))})`;
    const holds = (x: (typeof leaves)[number]): Fragment =>
      x.count === null ? this.dialect.boolOr(x.flag.name) : sql`count(*)${where([x.flag])} >= ${x.count}`;
    const having = groups.map((_, k) => or(leaves.filter((x) => x.group === k).map(holds)));
    if (after !== null) {
      // An eventCount leaf's events are positive once its count passes: always so when it is alone
      // in its group (the unit holds), otherwise only when its count passes.
      const always = leaves.filter((x) => x.count === null || x.alone).map((x) => x.flag);
      const lasts = always.length === 0 ? [] : [sql`max(t)${where(always)} > ${after}`];
      for (const x of leaves)
        if (x.count !== null && !x.alone)
          lasts.push(sql`(${holds(x)} AND max(t)${where([x.flag])} > ${after})`);
      having.push(or(lasts));
    }
    const columns = join(
      [
        sql`user_pseudo_id AS u`,
        ...(perSession ? [sql`ga_session_id AS s`, sql`ingest_seq AS q`] : []),
        sql`event_timestamp AS t`,
        ...flags.map((f) => sql`${f.expr} AS ${f.name}`),
      ],
      ', ',
    );
    const scan = eventWindow(
      this.ctx,
      columns,
      scanNames === null ? or(flags.map((f) => f.expr)) : nameFilter(scanNames),
    );
    const key = perSession ? sql`u, ${SESSION_KEY}` : sql`u`;
    const units = sql`SELECT u FROM (${scan}) GROUP BY ${key} HAVING ${and(having)}`;
    return perSession && after !== null ? sql`SELECT DISTINCT u FROM (${units})` : units;
  }

  // --- general case: first and last positions per clause ------------------------------------------

  compileByPositions(): Fragment {
    const clauses = this.def.filterClauses.map((c, i) => ({ c, i, out: this.visitClause(c, i) }));
    const flags = clauses.flatMap((x) => x.out.flags);
    const columns = join(
      [
        sql`user_pseudo_id AS u`,
        sql`ga_session_id AS s`,
        sql`event_timestamp AS t`,
        sql`ingest_seq AS q`,
        sql`${this.exactPositions ? this.dialect.streamPosition(sql`event_timestamp`, sql`ingest_seq`) : sql`event_timestamp`} AS pos`,
        ...flags.map((f) => sql`${f.expr} AS ${f.name}`),
      ],
      ', ',
    );
    // When every flag needs one of a few event names, the scan keeps only those (DuckDB pushes
    // `event_name = …` into the table scan); rows on which no flag holds change no aggregate. Else
    // the scan keeps the rows on which some flag holds.
    const names = namesOfFlags(flags);
    const scanFilter = names === null ? or(flags.map((f) => f.expr)) : nameFilter(names);
    const ctes = [sql`ev AS (${eventWindow(this.ctx, columns, scanFilter)})`];
    const perUser = clauses.flatMap((x) => (x.out.kind === 'user' ? [{ ...x, out: x.out }] : []));
    if (perUser.length > 0) {
      ctes.push(
        sql`pu AS (SELECT u, ${join(
          perUser.flatMap((x) => x.out.aggs),
          ', ',
        )} FROM ev GROUP BY u)`,
      );
      const fl = perUser.flatMap((x) => [
        sql`${x.out.f} AS ${ident(`c${x.i}_f`)}`,
        sql`${x.out.l} AS ${ident(`c${x.i}_l`)}`,
      ]);
      ctes.push(sql`cl AS (SELECT u, ${join(fl, ', ')} FROM pu)`);
    }
    for (const x of clauses) if (x.out.kind === 'cte') ctes.push(...x.out.ctes);
    return sql`WITH ${join(ctes, ',\n')}
${this.visitMembership(clauses.map((x) => ({ i: x.i, include: x.c.clauseType === 'INCLUDE', perUser: x.out.kind === 'user' })))}`;
  }

  /**
   * Members: every INCLUDE clause held (f not null), no EXCLUDE clause held, and the last qualifying
   * event at or after the join (the latest f) is younger than the membership duration.
   */
  visitMembership(clauses: { i: number; include: boolean; perUser: boolean }[]): Fragment {
    const f = (x: { i: number; perUser: boolean }): Fragment =>
      x.perUser ? ident(`c${x.i}_f`) : sql`${ident(`c${x.i}`)}.f`;
    const l = (x: { i: number; perUser: boolean }): Fragment =>
      x.perUser ? ident(`c${x.i}_l`) : sql`${ident(`c${x.i}`)}.l`;
    const includes = clauses.filter((x) => x.include);
    const excludes = clauses.filter((x) => !x.include);
    const baseIsCl = includes.some((x) => x.perUser);
    const joins: Fragment[] = [];
    const where: Fragment[] = [];
    const ctesIncluded = includes.filter((x) => !x.perUser);
    const base = baseIsCl ? sql`cl` : ident(`c${ctesIncluded[0]!.i}`);
    for (const x of ctesIncluded.slice(baseIsCl ? 0 : 1)) joins.push(sql`JOIN ${ident(`c${x.i}`)} USING (u)`);
    if (!baseIsCl && excludes.some((x) => x.perUser)) joins.push(sql`LEFT JOIN cl USING (u)`);
    for (const x of excludes) {
      if (x.perUser) where.push(sql`${f(x)} IS NULL`);
      else
        joins.push(this.dialect.antiJoin(sql`SELECT * FROM ${ident(`c${x.i}`)}`, ident(`x${x.i}`), [sql`u`]));
    }
    for (const x of includes) if (x.perUser) where.push(sql`${f(x)} IS NOT NULL`);
    let last: Fragment;
    if (includes.length === 1) last = l(includes[0]!);
    else {
      const joinedAt = sql`greatest(${join(includes.map(f), ', ')})`;
      last = sql`greatest(${join(
        includes.map((x) => sql`CASE WHEN ${l(x)} >= ${joinedAt} THEN ${l(x)} END`),
        ', ',
      )})`;
    }
    const cutoff = this.ctx.asOfMicros - BigInt(this.def.membershipDurationDays) * MICROS_PER_DAY;
    where.push(sql`${this.exactPositions ? this.dialect.positionMicros(last) : last} > ${param(cutoff)}`);
    const from = joins.length === 0 ? base : sql`${base}\n${join(joins, '\n')}`;
    return sql`SELECT u FROM ${from}
WHERE ${join(where, ' AND ')}
ORDER BY u`;
  }

  visitClause(c: FilterClause, i: number): ClauseSql {
    if (c.sequenceFilter) return this.visitSequence(c.sequenceFilter, i);
    const f = c.simpleFilter!;
    const groups = groupsOf(f.filterExpression);
    switch (f.scope) {
      case 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT':
        return this.visitSameEvent(groups, i);
      case 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION':
        return this.visitUnits(groups, i, true);
      case 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS':
        return this.visitUnits(groups, i, false);
    }
  }

  /** One event satisfies every group: f/l are the first and last such event. */
  visitSameEvent(groups: FilterExpression[][], i: number): ClauseSql {
    const name = ident(`c${i}_all`);
    return {
      kind: 'user',
      flags: [{ name, expr: and(groups.map((g) => this.visitGroup(g))), names: namesOfGroups(groups) }],
      aggs: [
        sql`min(pos) FILTER (WHERE ${name}) AS ${ident(`c${i}_first`)}`,
        sql`max(pos) FILTER (WHERE ${name}) AS ${ident(`c${i}_last`)}`,
      ],
      f: ident(`c${i}_first`),
      l: ident(`c${i}_last`),
    };
  }

  /**
   * Across all sessions (unit = the user's window) or within one session (unit = a session):
   * every group holds from its earliest leaf; the clause from its latest group (f). Qualifying
   * events are f and every later event matching a positive leaf.
   */
  visitUnits(groups: FilterExpression[][], i: number, perSession: boolean): ClauseSql {
    const flags: Flag[] = [];
    const aggs: Fragment[] = [];
    const groupFirsts: Fragment[] = [];
    const lasts: Fragment[] = [];
    groups.forEach((g, k) => {
      const firsts = g.map((e, j) => {
        const name = `c${i}_g${k}_${j}`;
        const leaf = this.visitUnitLeaf(e, ident(name), flags);
        aggs.push(sql`${leaf.first} AS ${ident(`${name}_f`)}`);
        if (leaf.lastPositive) {
          aggs.push(sql`${leaf.lastPositive} AS ${ident(`${name}_l`)}`);
          lasts.push(ident(`${name}_l`));
        }
        return ident(`${name}_f`);
      });
      groupFirsts.push(firsts.length === 1 ? firsts[0]! : sql`least(${join(firsts, ', ')})`);
    });
    const f =
      groupFirsts.length === 1
        ? groupFirsts[0]!
        : sql`CASE WHEN ${or(groupFirsts.map((x) => sql`${x} IS NULL`))} THEN NULL ELSE greatest(${join(groupFirsts, ', ')}) END`;
    if (!perSession) {
      const fi = ident(`c${i}_f`);
      return {
        kind: 'user',
        flags,
        aggs,
        f,
        l: lasts.length === 0 ? fi : sql`greatest(${fi}, ${join(lasts, ', ')})`,
      };
    }
    const l = lasts.length === 0 ? sql`f` : sql`greatest(f, ${join(lasts, ', ')})`;
    const perUnit = sql`SELECT u, ${f} AS f, ${l} AS l FROM (SELECT u, ${join(aggs, ', ')} FROM ev GROUP BY u, ${SESSION_KEY}) WHERE f IS NOT NULL`;
    return {
      kind: 'cte',
      flags,
      ctes: [sql`${ident(`c${i}`)} AS (SELECT u, min(f) AS f, max(l) AS l FROM (${perUnit}) GROUP BY u)`],
    };
  }

  /** A leaf of a unit: event-level (first match; positive unless negated) or an eventCount threshold. */
  visitUnitLeaf(e: FilterExpression, name: Fragment, flags: Flag[]): LeafAgg {
    const count = e.eventFilter && eventCountLeaf(e.eventFilter);
    if (count && e.eventFilter) {
      // plan.ts admits only `eventCount > x` (non-negated) here, with m = smallest passing count >= 1.
      const m = countThresholdOf(e);
      flags.push({
        name,
        expr: sql`event_name = ${param(e.eventFilter.eventName)}`,
        names: [e.eventFilter.eventName],
      });
      const passes = sql`count(*) FILTER (WHERE ${name}) >= ${param(m)}`;
      // The leaf's first position is the m-th event's. Without exactPositions only l and the
      // null-ness of f are used, and there the first event's position gives the same answer:
      // the leaf's own last position (>= the m-th) is among the clause's last positions.
      const first = this.exactPositions
        ? this.dialect.nthSmallest(sql`pos`, param(m), name)
        : sql`CASE WHEN ${passes} THEN min(pos) FILTER (WHERE ${name}) END`;
      return {
        first,
        lastPositive: sql`CASE WHEN ${passes} THEN max(pos) FILTER (WHERE ${name}) END`,
      };
    }
    flags.push({
      name,
      expr: this.leaf.visitExpression(e),
      names: e.eventFilter ? [e.eventFilter.eventName] : null,
    });
    const first = sql`min(pos) FILTER (WHERE ${name})`;
    return { first, lastPositive: e.notExpression ? null : sql`max(pos) FILTER (WHERE ${name})` };
  }

  /**
   * `perSession`: also the CTE c<i>_sess of the first completion per session; `completions`: also
   * the CTE c<i>_done of every completion (SequenceSqlCompiler).
   */
  visitSequence(seq: SequenceFilter, i: number, perSession = false, completions = false): ClauseSql {
    const out = this.sequence.visitSequence(
      seq,
      i,
      this.exactPositions
        ? this.dialect.streamPosition(sql`event_timestamp`, sql`ingest_seq`)
        : sql`event_timestamp`,
      perSession,
      completions,
    );
    return { kind: 'cte', ...out };
  }

  visitGroups(groups: FilterExpression[][]): Fragment {
    return and(groups.map((g) => this.visitGroup(g)));
  }

  visitGroup(leaves: FilterExpression[]): Fragment {
    return or(leaves.map((e) => this.leaf.visitExpression(e)));
  }
}

/** The names of the first group made only of eventFilters: an event satisfying all groups has one. */
export function namesOfGroups(groups: FilterExpression[][]): string[] | null {
  const g = groups.find((leaves) => leaves.every((e) => e.eventFilter));
  return g ? g.map((e) => e.eventFilter!.eventName) : null;
}

/** An eventFilter without parameter conditions: exactly `event_name = …`. */
function isPlainEvent(e: FilterExpression): boolean {
  return e.eventFilter !== undefined && e.eventFilter.eventParameterFilterExpression === undefined;
}

function isCountLeaf(e: FilterExpression): boolean {
  return e.eventFilter !== undefined && eventCountLeaf(e.eventFilter) !== undefined;
}

/**
 * Whether the clause's last qualifying event is its last positive match (see
 * compileByQualifyingEvents): always for events and sequences; across all sessions and within a
 * session only without NOT leaves (a NOT leaf's match can be the event at which the clause holds).
 */
export function qualifiesByPositiveMatches(c: FilterClause): boolean {
  const f = c.simpleFilter;
  if (!f || f.scope === 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT') return true;
  return groupsOf(f.filterExpression).every((g) => g.every((e) => !e.notExpression));
}

/** The event names outside which no flag holds (null: some flag may hold on any event). */
export function namesOfFlags(flags: Flag[]): string[] | null {
  if (flags.some((f) => f.names === null)) return null;
  return [...new Set(flags.flatMap((f) => f.names ?? []))];
}

export function nameFilter(names: string[]): Fragment {
  return or(names.map((n) => sql`event_name = ${param(n)}`));
}

/** Some flag of `fs` holds on every row of a scan restricted to `scanNames`. */
function coversScan(fs: Flag[], scanNames: string[] | null): boolean {
  if (scanNames === null) return false;
  const plain = new Set(fs.flatMap((f) => (f.plain ? (f.names ?? []) : [])));
  return scanNames.every((n) => plain.has(n));
}

export function countThresholdOf(e: FilterExpression): number {
  const leaf = e.eventFilter && eventCountLeaf(e.eventFilter);
  if (!leaf?.numericFilter) throw new Error('expected an eventCount > x leaf');
  return countThreshold(numericValue(leaf.numericFilter.value));
}
