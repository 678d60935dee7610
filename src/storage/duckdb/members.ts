// The audience engine of a DuckDB database: the audience layer's evaluator (plan choice, per-user
// fold: src/audience/evaluate/members.ts) driving this backend's executor. Nothing here is
// DuckDB-specific beyond the executor; the class only names the composition for callers.

import type { DuckDBConnection } from '@duckdb/node-api';
import { AudienceEvaluator } from '../../audience/evaluate/members.ts';
import type { DuckDbDatabase } from './connection.ts';
import { DuckDbExecutor } from './executor.ts';

export type { MembersExplain } from '../../audience/evaluate/members.ts';

export class DuckDbAudienceEngine extends AudienceEvaluator {
  /** Runs on a reader of the database, or on a bare connection (tests, bench). */
  constructor(source: DuckDbDatabase | DuckDBConnection) {
    super(new DuckDbExecutor(source));
  }
}
