// The audience engine on ClickHouse: the audience layer's evaluator (src/audience/evaluate/) over
// this backend's executor, with one choice of its own: which audiences run as one SQL statement
// (src/audience/compile/clickhouse-plan.ts); everything else takes the hybrid path over the
// evaluation window (the reference fold, the same members by construction). The
// backend-parameterised differential tests check both paths against the reference evaluator.

import { AudienceEvaluator, type MembersExplain } from '../../audience/evaluate/members.ts';
import { clickhouseMembersQuery } from '../../audience/compile/clickhouse-plan.ts';
import type { MembershipRequest } from '../contract.ts';
import type { ClickHouseExecutor } from './executor.ts';

export { booleansAsIntegers, inlineCtes } from '../../audience/compile/clickhouse-plan.ts';

export class ClickHouseAudienceEngine extends AudienceEvaluator {
  constructor(executor: ClickHouseExecutor) {
    super(executor, { compiledSql: false });
  }

  /** The plan this engine runs: SQL for the compiled forms 18.16 can run, else the fold. */
  override explain(req: MembershipRequest): MembersExplain {
    const query = clickhouseMembersQuery(req.audience, req);
    return query ? { plan: 'sql', query } : super.explain(req);
  }
}
