// The audience engine on ClickHouse: the audience layer's evaluator (src/audience/evaluate/) over
// this backend's executor, with one choice of its own: which audiences run as one SQL statement.
//
// The compiler's forms are written for an engine with window functions, CTEs, ANTI JOIN, FILTER
// and TRUE/FALSE; ClickHouse 18.16 has none of these. So an audience runs as SQL only when it is a
// closed form (compile/plan.ts) whose compiled text uses none of them (one scan with DISTINCT, or
// a per-user / per-session GROUP BY … HAVING: All Users, "did X", "X and Y in one session"; at
// most one permanent exclusion, as a GLOBAL NOT IN), and
// every dialect hook it needs has an 18.16 spelling. TRUE and FALSE, which the compiler writes as
// keywords, become 1 and 0 (tokens outside string literals only). Everything else takes the
// hybrid path over the evaluation window (the reference fold, the same members by construction).
// The backend-parameterised differential tests check both paths against the reference evaluator.

import type { AudienceDefinition } from '../../domain/audience.ts';
import { AudienceEvaluator, type MembersExplain } from '../../audience/evaluate/members.ts';
import { compileAudienceQuery, type CompiledQuery } from '../../audience/compile/index.ts';
import { isClosedFormAudience } from '../../audience/compile/plan.ts';
import {
  ANTI_JOIN_MARKER,
  DialectUnsupportedError,
  UNSUPPORTED_MARKER,
} from '../../audience/compile/clickhouse-dialect.ts';
import type { MembershipRequest } from '../contract.ts';
import type { ClickHouseExecutor } from './executor.ts';

/** Constructs of the compiled text that 18.16 cannot run. */
const UNSUPPORTED_TEXT = new RegExp(
  `\\bWITH\\b|\\bFILTER\\s*\\(|\\bJOIN\\b|\\bOVER\\s*\\(|HUGEINT|::|\\blist_|\\blambda\\b|${UNSUPPORTED_MARKER}`,
  'i',
);

/**
 * `TRUE`/`FALSE` keywords as 1/0, outside the string literals (which are all written by
 * clickhouseLiteral: single quotes with backslash escapes, so a quote inside is always escaped).
 */
export function booleansAsIntegers(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const q = text.indexOf("'", i);
    const plain = q < 0 ? text.slice(i) : text.slice(i, q);
    out += plain.replace(/\bTRUE\b/g, '1').replace(/\bFALSE\b/g, '0');
    if (q < 0) break;
    let j = q + 1;
    while (j < text.length && text[j] !== "'") j += text[j] === '\\' ? 2 : 1;
    out += text.slice(q, j + 1);
    i = j + 1;
  }
  return out;
}

export class ClickHouseAudienceEngine extends AudienceEvaluator {
  constructor(executor: ClickHouseExecutor) {
    super(executor, { compiledSql: false });
  }

  /** The plan this engine runs: SQL for the closed forms 18.16 can run, else the fold. */
  override explain(req: MembershipRequest): MembersExplain {
    const sql = this.closedFormSql(req.audience, req);
    return sql ? { plan: 'sql', query: sql } : super.explain(req);
  }

  private closedFormSql(def: AudienceDefinition, req: MembershipRequest): CompiledQuery | null {
    if (!isClosedFormAudience(def)) return null;
    let query: CompiledQuery;
    try {
      query = compileAudienceQuery(def, req, this.executor.dialect, 'sql').query;
    } catch (err) {
      if (err instanceof DialectUnsupportedError) return null;
      throw err;
    }
    const text = stripLiterals(query.sql);
    if (UNSUPPORTED_TEXT.test(text) || text.split(ANTI_JOIN_MARKER).length > 2) return null;
    return { sql: booleansAsIntegers(query.sql), parameters: query.parameters };
  }
}

/** The text with every string literal emptied, for the construct check. */
function stripLiterals(text: string): string {
  return text.replace(/'(?:[^'\\]|\\.)*'/g, "''");
}
