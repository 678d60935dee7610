// The audience compiler: AudienceDefinition + EvaluationConfig + asOf → { sql, parameters }.
// Pure: no connection, no config lookups. The result's plan says how the engine must use it:
// 'sql' returns the member ids (sorted); 'hybrid' returns candidate users' events in stream order
// for the per-user fold.

import type { AudienceDefinition } from '../../domain/audience.ts';
import { compileCandidateEvents } from './candidates.ts';
import { duckdbDialect, type SqlDialect } from './dialect.ts';
import { EventStateCompiler } from './events-sql.ts';
import { LatestEventCompiler, hasLatestEventForm } from './latest-sql.ts';
import { compileNDayCount, compileNDaySessions, hasNDayCountForm, hasNDaySessionsForm } from './nday-sql.ts';
import { MembersSqlCompiler } from './members-sql.ts';
import { isClosedFormAudience, planAudience, type AudiencePlan } from './plan.ts';
import { render, type CompiledQuery } from './sql.ts';
import type { QueryContext } from './window.ts';

export { planAudience, type AudiencePlan } from './plan.ts';
export { duckdbDialect, type SqlDialect } from './dialect.ts';
export type { CompiledQuery, SqlValue } from './sql.ts';
export type { QueryContext } from './window.ts';

export interface CompiledAudience {
  readonly plan: AudiencePlan;
  readonly query: CompiledQuery;
}

export function compileAudienceQuery(
  def: AudienceDefinition,
  ctx: QueryContext,
  dialect: SqlDialect = duckdbDialect,
  plan: AudiencePlan = planAudience(def, ctx.config),
): CompiledAudience {
  const fragment =
    plan === 'hybrid'
      ? compileCandidateEvents(def, ctx, dialect)
      : isClosedFormAudience(def, ctx.config)
        ? new MembersSqlCompiler(dialect, def, ctx).compile()
        : hasNDayCountForm(def)
          ? compileNDayCount(dialect, def, ctx)
          : hasNDaySessionsForm(def)
            ? compileNDaySessions(dialect, def, ctx)
            : hasLatestEventForm(def)
              ? new LatestEventCompiler(dialect, def, ctx).compile()
              : new EventStateCompiler(dialect, def, ctx).compile();
  const query = render(fragment, (i, v) => dialect.placeholder(i, v));
  return Object.freeze({ plan, query });
}
