// Audience membership on any engine. Each audience takes one of two paths (planAudience):
// - 'sql': one compiled query returns the member ids;
// - 'hybrid': a compiled query pre-filters candidate users and streams their events in stream
//   order, chunk by chunk, into the reference evaluator's per-user fold. Only one user's events
//   are held in memory at a time.
// The engine only runs SQL (QueryExecutor, src/storage/contract.ts), so a second backend shares
// the plan choice and the fold instead of copying them.

import type { AudienceDefinition, EvaluationConfig } from '../../domain/audience.ts';
import type { StoredEvent } from '../../domain/event.ts';
import { compileAudienceQuery, type AudiencePlan, type CompiledQuery } from '../compile/index.ts';
import { EVENT_COLUMNS } from '../../domain/event.ts';
import { ident, join, render, sql } from '../compile/sql.ts';
import { eventWindow } from '../compile/window.ts';
import { compileAudience, evaluateUser, type MembershipInterval } from '../reference/evaluate.ts';
import type { AudienceEngine, MembershipRequest, QueryExecutor } from '../../storage/contract.ts';

export interface MembersExplain {
  plan: AudiencePlan;
  query: CompiledQuery;
}

export interface EvaluatorOptions {
  /**
   * false: the engine cannot run the compiled statements (ClickHouse 18.16: no window functions,
   * CTEs or TRUE/FALSE), so every audience takes the hybrid path over all the events of its
   * evaluation window, streamed in stream order: the same members, computed by the fold.
   */
  compiledSql?: boolean;
}

export class AudienceEvaluator implements AudienceEngine {
  constructor(
    protected readonly executor: QueryExecutor,
    private readonly options: EvaluatorOptions = {},
  ) {}

  explain(req: MembershipRequest): MembersExplain {
    if (this.options.compiledSql === false) {
      const columns = join(
        EVENT_COLUMNS.map(([name]) => ident(name)),
        ', ',
      );
      const f = sql`${eventWindow(req, columns)} ORDER BY user_pseudo_id, event_timestamp, ingest_seq`;
      return { plan: 'hybrid', query: render(f, (i, v) => this.executor.dialect.placeholder(i, v)) };
    }
    return compileAudienceQuery(req.audience, req, this.executor.dialect);
  }

  membersQuery(req: MembershipRequest): CompiledQuery | null {
    const { plan, query } = this.explain(req);
    return plan === 'sql' ? query : null;
  }

  async findMembers(req: MembershipRequest): Promise<string[]> {
    const { plan, query } = this.explain(req);
    if (plan === 'sql') return (await this.executor.firstColumn(query)).map(String);
    return this.runHybrid(query, req.audience, req.config, req.asOfMicros);
  }

  private async runHybrid(
    query: CompiledQuery,
    def: AudienceDefinition,
    config: EvaluationConfig,
    asOf: bigint,
  ): Promise<string[]> {
    const compiled = compileAudience(def);
    const members: string[] = [];
    await forEachUserHistory(this.executor, query, (events) => {
      if (isMemberAt(evaluateUser(def, events, asOf, config, compiled).intervals, asOf))
        members.push(events[0]!.user_pseudo_id);
    });
    return members;
  }
}

/**
 * Streams `query` (every event column, rows grouped by user_pseudo_id, e.g. ORDER BY
 * user_pseudo_id, event_timestamp, ingest_seq) and calls `onUser` once per user with that user's
 * events in query order: the fold of the hybrid path and of the audience trigger logger.
 */
export async function forEachUserHistory(
  executor: QueryExecutor,
  query: CompiledQuery,
  onUser: (events: StoredEvent[]) => void,
): Promise<void> {
  let events: StoredEvent[] = [];
  await executor.streamEvents(query, (chunk) => {
    for (const e of chunk) {
      if (events.length > 0 && e.user_pseudo_id !== events[0]!.user_pseudo_id) {
        onUser(events);
        events = [];
      }
      events.push(e);
    }
  });
  if (events.length > 0) onUser(events);
}

export function isMemberAt(intervals: readonly MembershipInterval[], at: bigint): boolean {
  return intervals.some((iv) => iv.joinedAt <= at && (iv.leftAt === null || at < iv.leftAt));
}
