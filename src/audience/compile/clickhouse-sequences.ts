// Sequence clauses in the per-event state on ClickHouse 18.16 (docs/audiences.md §8.1): the
// sequence compiler's chain (sequence-sql.ts chainLayers: per step, layers of named columns whose
// window hooks are the ones DuckDB runs as window functions) evaluated over the same per-user
// sorted arrays as every other per-event value (clickhouse-windows.ts), so an audience with
// sequences is one statement there too.
//
// Each chain layer becomes up to two levels of the array statement between stage 0 and stage 1:
// first its window calls (each an array column named after its marker), then its columns, which
// read those markers as columns. The chain runs over every event of the evaluation window rather
// than over the rows matching a step (DuckDB's scan for a sequence without immediatelyFollows):
// a row matching no step has every b_k NULL, so it changes no anchor. Per clause, from the last
// step's b: `done` (the event completes the sequence), `holds` (a completion at or before it),
// `last` (the user's last completion: the clause's qualifying event), and for a temporary
// exclusion by a session-scoped sequence `sact` (a completion in the event's session at or
// before it).
//
// With immediatelyFollows and a non-empty ignoreEventNamesForAdjacency, the adjacency columns (ig,
// g, gp) come once before the chains, and the packed (group, start) pairs are text
// (clickhouse-frames.ts). Every sequence the planner sends to SQL runs here; what 18.16 cannot
// spell elsewhere in the audience (item leaves) still throws DialectUnsupportedError.

import type { AudienceDefinition, FilterClause } from '../../domain/audience.ts';
import { clickhouseText } from './clickhouse-dialect.ts';
import { ClickHouseEventStateCompiler } from './clickhouse-windows.ts';
import type { EventStateCompiler, StageColumn } from './events-sql.ts';
import { EventPredicateCompiler } from './leaves.ts';
import { SESSION_KEY, nameFilter, namesOfFlags, type Flag } from './members-sql.ts';
import {
  SequenceSqlCompiler,
  adjacencyColumns,
  needsAdjacency,
  needsAllEvents,
  type ChainColumn,
} from './sequence-sql.ts';
import { ident, or, sql, type Fragment } from './sql.ts';
import type { QueryContext } from './window.ts';

const EVENT = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';
const SESSION = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const ACROSS = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';
const MARKER = /^audex_win_\d+$/;
/** Levels of the chain's columns: after the partitions' helpers (0.1–0.5), before stage 1. */
const FIRST_LEVEL = 0.6;
const LEVEL_STEP = 0.0005;

type ClauseArgs = Parameters<EventStateCompiler['visitClause']>;
type ClauseValues = ReturnType<EventStateCompiler['visitClause']>;

export class ClickHouseSequenceStateCompiler extends ClickHouseEventStateCompiler {
  private readonly sequences: SequenceSqlCompiler;
  private readonly forMembers: boolean;
  /** The step flags: stage-0 columns, read from the event rows. */
  private readonly flagColumns: StageColumn[] = [];
  /** The chains' layers, in order, computed before stage 1 (beforeStages). */
  private readonly layers: ChainColumn[][] = [];
  private level = FIRST_LEVEL;
  /** The adjacency columns (ig, g, gp) are in. */
  private adjacency = false;
  /** Every sequence clause's step flags (scanFilter). */
  private readonly stepFlags: Flag[] = [];

  protected constructor(
    private readonly definition: AudienceDefinition,
    private readonly context: QueryContext,
    users: Fragment | null,
  ) {
    super(new Map(), definition, context, users);
    this.forMembers = users === null;
    this.sequences = new SequenceSqlCompiler(
      this.dialect,
      context,
      new EventPredicateCompiler(this.dialect, { singleEventMetrics: true }),
    );
  }

  /** The per-event state over per-user arrays, sequence clauses included (`users`: as the base's). */
  static create(
    def: AudienceDefinition,
    ctx: QueryContext,
    users: Fragment | null = null,
  ): ClickHouseSequenceStateCompiler {
    return new ClickHouseSequenceStateCompiler(def, ctx, users);
  }

  override visitClause(...args: ClauseArgs): ClauseValues {
    const [c, i, , seqFlags] = args;
    if (!c.sequenceFilter) return super.visitClause(...args);
    const seq = c.sequenceFilter;
    const ignored = this.context.config.ignoreEventNamesForAdjacency;
    if (needsAdjacency(seq) && ignored.length > 0 && !this.adjacency) {
      // The same columns for every clause (one ignore list): once, before the chains.
      const { ig, layers } = adjacencyColumns(this.dialect, ignored);
      seqFlags.push(sql`${ig.expr} AS ${ig.name}`);
      this.flagColumns.push(ig);
      this.layers.push(...layers);
      this.adjacency = true;
    }
    for (const f of this.sequences.sequenceFlags(seq, i)) {
      seqFlags.push(sql`${f.expr} AS ${f.name}`);
      this.flagColumns.push({ name: f.name, expr: f.expr });
      this.stepFlags.push(f);
    }
    const chain = this.sequences.chainLayers(seq, i, `c${i}_`);
    this.layers.push(...chain.steps.flat());
    return this.clauseValues(c, i, chain.b);
  }

  /** The clause's values from its last step's b (see the header). */
  private clauseValues(c: FilterClause, i: number, b: Fragment): ClauseValues {
    const d = this.dialect;
    const col = (name: string): Fragment => ident(`c${i}_${name}`);
    const one = sql`CASE WHEN ${col('done')} THEN 1 ELSE 0 END`;
    this.layers.push([{ name: col('done'), expr: sql`${b} IS NOT NULL` }]);
    const cols: ChainColumn[] = [
      { name: col('holds'), expr: sql`${d.runningSumInStream(one, sql`u`)} > 0` },
      { name: col('last'), expr: sql`${col('done')} AND ifNull(${d.sumAfter(one, sql`u`)}, 0) = 0` },
    ];
    const seq = c.sequenceFilter!;
    const sessionExclusion =
      c.clauseType === 'EXCLUDE' &&
      this.definition.exclusionDurationMode !== 'EXCLUDE_PERMANENTLY' &&
      seq.scope === SESSION;
    if (sessionExclusion)
      cols.push({
        name: col('sact'),
        expr: sql`${d.runningSumInStream(one, sql`u, ${SESSION_KEY}`)} > 0`,
      });
    this.layers.push(cols);
    const value = (name: string) => ({ expr: col(name), level: 0 });
    const holds = value('holds');
    const qualifies = value('last');
    if (sessionExclusion) return { holds, qualifies, active: value('sact') };
    return {
      holds,
      qualifies,
      active: seq.scope === EVENT ? qualifies : seq.scope === ACROSS ? holds : null,
    };
  }

  /**
   * Members of an audience made only of INCLUDE sequences whose steps are single events, without
   * "directly followed by": only the steps' events. Each clause holds from its first completion
   * and qualifies at its last, so A changes only at step events; an event matching no step never
   * qualifies, and fails only before every clause's first completion, that is before the last
   * qualifying event whenever there is one; and such chains read only step events (as the
   * sequence scan of sequence-sql.ts). So leaving the other events out changes no member, and
   * spares 18.16 the per-user arrays of every event of the window. (Trigger passes keep them.)
   */
  protected override scanFilter(): Fragment | null {
    const onlySequences = this.definition.filterClauses.every(
      (c) =>
        c.clauseType === 'INCLUDE' && c.sequenceFilter !== undefined && !needsAllEvents(c.sequenceFilter),
    );
    if (!this.forMembers || !onlySequences || this.stepFlags.length === 0) return null;
    const names = namesOfFlags(this.stepFlags);
    return names === null ? or(this.stepFlags.map((f) => f.expr)) : nameFilter(names);
  }

  protected override baseColumns(): readonly StageColumn[] {
    return [...super.baseColumns(), ...this.flagColumns];
  }

  protected override beforeStages(): void {
    for (const layer of this.layers) this.addLayer(layer);
  }

  /** A chain layer as levels of the array statement: its window calls, then its columns. */
  private addLayer(layer: ChainColumn[]): void {
    const windows: StageColumn[] = [];
    const plain: StageColumn[] = [];
    for (const c of layer) {
      const text = clickhouseText(c.expr);
      if (MARKER.test(text)) {
        windows.push(c);
        continue;
      }
      for (const m of new Set(text.match(/audex_win_\d+/g) ?? []))
        windows.push({ name: ident(m), expr: ident(m) });
      plain.push(c);
    }
    for (const cols of [windows, plain]) {
      if (cols.length === 0) continue;
      this.stageSelect(this.level, sql`ev`, cols, []);
      this.level += LEVEL_STEP;
    }
  }
}
