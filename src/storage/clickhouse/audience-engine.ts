// The audience engine on ClickHouse: the audience layer's evaluator (src/audience/evaluate/) over
// this backend's executor, with choices of its own:
// - which audiences run as one SQL statement (src/audience/compile/clickhouse-plan.ts);
//   everything else takes the hybrid path over the evaluation window (the reference fold, the
//   same members by construction), streamed from the `events` table (Distributed on a cluster);
// - where the statement runs: on every shard at once over the shard's own events, the members
//   merged in byte order (shards.ts), so the per-user work is done where the rows are.
// The backend-parameterised differential tests check both paths against the reference evaluator;
// test/clickhouse-shards.test.ts checks the cluster against a single node and that each shard ran
// the statement over its own rows.

import { AudienceEvaluator, type MembersExplain } from '../../audience/evaluate/members.ts';
import { clickhouseMembersQuery } from '../../audience/compile/clickhouse-plan.ts';
import type { MembershipRequest } from '../contract.ts';
import type { ClickHouseExecutor } from './executor.ts';

export { booleansAsIntegers, inlineCtes } from '../../audience/compile/clickhouse-plan.ts';

export class ClickHouseAudienceEngine extends AudienceEvaluator {
  constructor(private readonly chExecutor: ClickHouseExecutor) {
    super(chExecutor, { compiledSql: false });
  }

  /** The plan this engine runs: SQL for the compiled forms 18.16 can run, else the fold. */
  override explain(req: MembershipRequest): MembersExplain {
    const query = clickhouseMembersQuery(req.audience, req);
    return query ? { plan: 'sql', query } : super.explain(req);
  }

  /** The SQL plan's statement runs shard-locally (shards.ts); the hybrid plan as the evaluator does. */
  override async findMembers(req: MembershipRequest): Promise<string[]> {
    const { plan, query } = this.explain(req);
    if (plan !== 'sql') return super.findMembers(req);
    return this.chExecutor.shardLocalColumn(query);
  }
}
