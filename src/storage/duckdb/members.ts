// AudienceEngine.findMembers on DuckDB. Each audience takes one of two paths (planAudience):
// - 'sql': one compiled query returns the member ids;
// - 'hybrid': a compiled query pre-filters candidate users and streams their events in stream
//   order, chunk by chunk, into the reference evaluator's per-user fold. Only one user's events
//   are held in memory at a time.

import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { AudienceDefinition, EvaluationConfig } from '../../domain/audience.ts';
import { EVENT_COLUMNS, type StoredEvent } from '../../domain/event.ts';
import { decodeEventColumn } from './event-store.ts';
import { compileAudienceQuery, type AudiencePlan, type CompiledQuery } from '../../audience/compile/index.ts';
import { compileAudience, evaluateUser, type MembershipInterval } from '../../audience/reference/evaluate.ts';
import type { AudienceEngine, MembershipRequest } from '../contract.ts';
import { wrapDuckDbError, type DuckDbDatabase } from './connection.ts';

export interface MembersExplain {
  plan: AudiencePlan;
  query: CompiledQuery;
}

type Runner = <T>(fn: (con: DuckDBConnection) => Promise<T>, sql: string) => Promise<T>;

export class DuckDbAudienceEngine implements AudienceEngine {
  private readonly runOn: Runner;

  /** Runs on a reader of the database, or on a bare connection (tests, bench). */
  constructor(source: DuckDbDatabase | DuckDBConnection) {
    if ('reader' in source) {
      this.runOn = (fn, sql) => source.reader().exclusive(fn, sql);
    } else {
      this.runOn = async (fn, sql) => {
        try {
          return await fn(source);
        } catch (err) {
          throw wrapDuckDbError(err, sql);
        }
      };
    }
  }

  explain(req: MembershipRequest): MembersExplain {
    return compileAudienceQuery(req.audience, req);
  }

  membersQuery(req: MembershipRequest): CompiledQuery | null {
    const { plan, query } = this.explain(req);
    return plan === 'sql' ? query : null;
  }

  async findMembers(req: MembershipRequest): Promise<string[]> {
    const { plan, query } = this.explain(req);
    if (plan === 'sql') return this.runSql(query);
    return this.runHybrid(query, req.audience, req.config, req.asOfMicros);
  }

  private async runSql(query: CompiledQuery): Promise<string[]> {
    return this.runOn(async (con) => {
      const reader = await con.runAndReadAll(query.sql, query.parameters as DuckDBValue[]);
      return reader.getColumns()[0]?.map(String) ?? [];
    }, query.sql);
  }

  private async runHybrid(
    query: CompiledQuery,
    def: AudienceDefinition,
    config: EvaluationConfig,
    asOf: bigint,
  ): Promise<string[]> {
    const compiled = compileAudience(def);
    return this.runOn(async (con) => {
      const members: string[] = [];
      await forEachUserHistory(con, query.sql, query.parameters as DuckDBValue[], (events) => {
        if (isMemberAt(evaluateUser(def, events, asOf, config, compiled).intervals, asOf))
          members.push(events[0]!.user_pseudo_id);
      });
      return members;
    }, query.sql);
  }
}

/**
 * Streams `sql` (every EVENT_COLUMNS column, rows grouped by user_pseudo_id, e.g. ORDER BY
 * user_pseudo_id, event_timestamp, ingest_seq) and calls `onUser` once per user with that user's
 * events in query order: the fold of the hybrid path and of the audience trigger logger.
 */
export async function forEachUserHistory(
  con: DuckDBConnection,
  sql: string,
  params: DuckDBValue[],
  onUser: (events: StoredEvent[]) => void,
): Promise<void> {
  const result = await con.stream(sql, params);
  const decode = rowDecoder(result.columnNames());
  let events: StoredEvent[] = [];
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const columns = chunk.getColumns();
    for (let r = 0; r < chunk.rowCount; r++) {
      const e = decode(columns, r);
      if (events.length > 0 && e.user_pseudo_id !== events[0]!.user_pseudo_id) {
        onUser(events);
        events = [];
      }
      events.push(e);
    }
  }
  if (events.length > 0) onUser(events);
}

function isMemberAt(intervals: readonly MembershipInterval[], at: bigint): boolean {
  return intervals.some((iv) => iv.joinedAt <= at && (iv.leftAt === null || at < iv.leftAt));
}

/** Column-index based decoding of event rows into StoredEvents (JSON columns decoded). */
function rowDecoder(names: string[]): (columns: DuckDBValue[][], row: number) => StoredEvent {
  const index = new Map(names.map((n, i) => [n, i]));
  const plan = EVENT_COLUMNS.map(([name, type]) => {
    const i = index.get(name);
    if (i === undefined) throw new Error(`candidate query lacks column ${name}`);
    return { name, type, i };
  });
  return (columns, row) => {
    const out: Record<string, unknown> = {};
    for (const { name, type, i } of plan) out[name] = decodeEventColumn(name, type, columns[i]![row]);
    return out as unknown as StoredEvent;
  };
}
