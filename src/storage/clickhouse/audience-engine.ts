// The audience engine on ClickHouse: the audience layer's evaluator (src/audience/evaluate/) over
// this backend's executor, with one choice of its own: which audiences run as one SQL statement.
//
// The compiler's forms are written for an engine with window functions, CTEs, ANTI JOIN, FILTER,
// JSON functions and TRUE/FALSE; ClickHouse 18.16 has none of these. An audience on the SQL plan
// runs as one statement here when every dialect hook it needs has an 18.16 spelling (window hooks
// and item JSON do not; typed params and user properties do) and its text, once its CTEs are inlined as subqueries and TRUE/FALSE are
// written 1/0, uses none of the rest (at most one anti-join, as GLOBAL NOT IN): the closed forms
// and the latest-event form. Everything else takes the hybrid path over the evaluation window
// (the reference fold, the same members by construction).
// The backend-parameterised differential tests check both paths against the reference evaluator.

import type { AudienceDefinition } from '../../domain/audience.ts';
import { AudienceEvaluator, type MembersExplain } from '../../audience/evaluate/members.ts';
import { compileAudienceQuery, type CompiledQuery } from '../../audience/compile/index.ts';
import { planAudience } from '../../audience/compile/plan.ts';
import {
  ANTI_JOIN_MARKER,
  DialectUnsupportedError,
  UNSUPPORTED_MARKER,
} from '../../audience/compile/clickhouse-dialect.ts';
import type { MembershipRequest } from '../contract.ts';
import type { ClickHouseExecutor } from './executor.ts';

/**
 * Constructs of the compiled text that 18.16 cannot run (after inlineCtes); greatest/least: the
 * compiler applies them to stream positions, which are tuples here, and 18.16 compares no tuples
 * in them.
 */
const UNSUPPORTED_TEXT = new RegExp(
  `\\bWITH\\b|\\b(ANTI|SEMI|LEFT|RIGHT|FULL|CROSS|ASOF)\\b|\\b(greatest|least)\\s*\\(|\\bFILTER\\s*\\(|\\bOVER\\s*\\(|HUGEINT|::|\\blist_|\\blambda\\b|${UNSUPPORTED_MARKER}`,
  'i',
);

/**
 * Applies `edit` to the text outside string literals (which are all written by clickhouseLiteral:
 * single quotes with backslash escapes, so a quote inside one is always escaped).
 */
function outsideLiterals(text: string, edit: (code: string) => string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const q = text.indexOf("'", i);
    out += edit(q < 0 ? text.slice(i) : text.slice(i, q));
    if (q < 0) break;
    let j = q + 1;
    while (j < text.length && text[j] !== "'") j += text[j] === '\\' ? 2 : 1;
    out += text.slice(q, j + 1);
    i = j + 1;
  }
  return out;
}

/** `TRUE`/`FALSE` keywords as 1/0, outside string literals. */
export function booleansAsIntegers(text: string): string {
  return outsideLiterals(text, (code) => code.replace(/\bTRUE\b/g, '1').replace(/\bFALSE\b/g, '0'));
}

/** The index just past the parenthesis that closes the one at `open`, skipping string literals. */
function closingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === "'") {
      i++;
      while (i < text.length && text[i] !== "'") i += text[i] === '\\' ? 2 : 1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
  }
  return -1;
}

/**
 * A leading `WITH a AS (…), b AS (…) SELECT …` with every `FROM a` / `JOIN a` replaced by the
 * subquery `(…) AS a` (18.16 has no CTEs over subqueries; each reference is computed on its own).
 * The names are the compiler's; references are replaced outside string literals only. Null when
 * the text does not have that shape.
 */
export function inlineCtes(text: string): string | null {
  if (!text.startsWith('WITH ')) return text;
  const bodies = new Map<string, string>();
  let i = 'WITH '.length;
  for (;;) {
    const m = /^([a-z_][a-z0-9_]*) AS \(/.exec(text.slice(i));
    if (!m) return null;
    const open = i + m[0].length - 1;
    const end = closingParen(text, open);
    if (end < 0) return null;
    bodies.set(m[1]!, substitute(text.slice(open + 1, end - 1), bodies));
    i = end;
    const sep = /^,\s*/.exec(text.slice(i));
    if (!sep) break;
    i += sep[0].length;
  }
  return substitute(text.slice(i).replace(/^\s+/, ''), bodies);
}

function substitute(text: string, bodies: ReadonlyMap<string, string>): string {
  if (bodies.size === 0) return text;
  const names = [...bodies.keys()].join('|');
  const ref = new RegExp(`\\b(FROM|JOIN) (${names})\\b(?! AS\\b)`, 'g');
  return outsideLiterals(text, (code) =>
    code.replace(ref, (_all, kw: string, name: string) => `${kw} (${bodies.get(name)!}) AS ${name}`),
  );
}

export class ClickHouseAudienceEngine extends AudienceEvaluator {
  constructor(executor: ClickHouseExecutor) {
    super(executor, { compiledSql: false });
  }

  /** The plan this engine runs: SQL for the compiled forms 18.16 can run, else the fold. */
  override explain(req: MembershipRequest): MembersExplain {
    const sql = this.closedFormSql(req.audience, req);
    return sql ? { plan: 'sql', query: sql } : super.explain(req);
  }

  private closedFormSql(def: AudienceDefinition, req: MembershipRequest): CompiledQuery | null {
    if (planAudience(def) !== 'sql') return null;
    let query: CompiledQuery;
    try {
      query = compileAudienceQuery(def, req, this.executor.dialect, 'sql').query;
    } catch (err) {
      if (err instanceof DialectUnsupportedError) return null;
      throw err;
    }
    const inlined = inlineCtes(query.sql);
    if (inlined === null) return null;
    const text = stripLiterals(inlined);
    if (UNSUPPORTED_TEXT.test(text) || text.split(ANTI_JOIN_MARKER).length > 2) return null;
    return { sql: booleansAsIntegers(inlined), parameters: query.parameters };
  }
}

/** The text with every string literal emptied, for the construct check. */
function stripLiterals(text: string): string {
  return text.replace(/'(?:[^'\\]|\\.)*'/g, "''");
}
