// What ClickHouse 18.16 runs for an audience: one statement when the compiler can spell it there,
// else the hybrid plan (the engine streams the evaluation window to the reference fold).
//
// The compiler's forms are written for an engine with window functions, CTEs, ANTI JOIN, FILTER,
// JSON functions and TRUE/FALSE; 18.16 has none of these. An audience on the SQL plan runs as one
// statement when every dialect hook it needs has an 18.16 spelling and its text, once its CTEs are
// inlined as subqueries and TRUE/FALSE are written 1/0, uses none of the rest (at most one
// anti-join, as GLOBAL NOT IN): the closed forms and the latest-event form, with typed params
// and user properties (clickhouse-json.ts). Otherwise the per-event state over per-user arrays
// (clickhouse-windows.ts), sequence clauses included (clickhouse-sequences.ts). What is left
// (item leaves) takes the hybrid plan. docs/audiences.md §8 lists each construct's spelling.

import type { AudienceDefinition } from '../../domain/audience.ts';
import {
  ANTI_JOIN_MARKER,
  clickhouseDialect,
  DialectUnsupportedError,
  UNSUPPORTED_MARKER,
} from './clickhouse-dialect.ts';
import { ClickHouseSequenceStateCompiler } from './clickhouse-sequences.ts';
import { compileAudienceQuery } from './index.ts';
import { planAudience } from './plan.ts';
import { render, sql, type CompiledQuery, type Fragment } from './sql.ts';
import type { QueryContext } from './window.ts';

/** Constructs of the compiled text that 18.16 cannot run (after inlineCtes). */
const UNSUPPORTED_TEXT = new RegExp(
  `\\bWITH\\b|\\b(ANTI|SEMI|LEFT|RIGHT|FULL|CROSS|ASOF)\\b|\\bFILTER\\s*\\(|\\bOVER\\s*\\(|HUGEINT|::|\\blist_|\\blambda\\b|${UNSUPPORTED_MARKER}`,
  'i',
);
/**
 * And in the closed forms, greatest/least: they apply them to stream positions, which are tuples
 * here, and 18.16 compares no tuples in them (the per-event state applies least() only to the
 * sequence chains' starts, integers).
 */
const POSITION_EXTREMES = /\b(greatest|least)\s*\(/i;

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

/** The golden file of an audience on the hybrid plan on ClickHouse (the statement is the window scan). */
export const CLICKHOUSE_HYBRID =
  '-- hybrid: the reference fold over the evaluation window, streamed in stream order\n';

/** The one statement 18.16 runs for `def` (its member ids, sorted), or null: the hybrid plan. */
export function clickhouseMembersQuery(def: AudienceDefinition, ctx: QueryContext): CompiledQuery | null {
  if (planAudience(def, ctx.config) !== 'sql') return null;
  const placeholder = (i: number, v: Parameters<typeof clickhouseDialect.placeholder>[1]): string =>
    clickhouseDialect.placeholder(i, v);
  return (
    runnable(() => compileAudienceQuery(def, ctx, clickhouseDialect, 'sql').query, POSITION_EXTREMES) ??
    runnable(() => render(ClickHouseSequenceStateCompiler.create(def, ctx).compile(), placeholder))
  );
}

/**
 * A trigger pass's statement on 18.16 for `def` (SQL plan), or null (the fold): `outer` around the
 * trigger rows (u, q) of the per-event state over the pass users' events (`users`, a subquery of
 * user_pseudo_ids), from each user's first new position on (`since`) and ingested after `fromSeq`
 * (EventStateCompiler.compileTriggers).
 */
export function clickhouseTriggersQuery(
  def: AudienceDefinition,
  ctx: QueryContext,
  users: Fragment,
  opts: { since: Fragment | null; fromSeq: bigint | null },
  outer: (rows: Fragment) => Fragment,
): CompiledQuery | null {
  if (planAudience(def, ctx.config) !== 'sql') return null;
  const placeholder = (i: number, v: Parameters<typeof clickhouseDialect.placeholder>[1]): string =>
    clickhouseDialect.placeholder(i, v);
  const rows = runnable(() =>
    render(ClickHouseSequenceStateCompiler.create(def, ctx, users).compileTriggers(opts), placeholder),
  );
  if (rows === null) return null;
  // The rows' text is complete (18.16 literals, CTEs inlined); `outer` is rendered the same way
  // around a marker that no rendered literal can hold (literals are quoted).
  const text = render(outer(sql`audex_trigger_rows`), placeholder).sql;
  return { sql: text.replace('audex_trigger_rows', () => rows.sql), parameters: [] };
}

/**
 * The compiled query as 18.16 text (CTEs inlined, TRUE/FALSE as 1/0), or null when the dialect
 * cannot spell it or its text still holds a construct 18.16 lacks.
 */
function runnable(compile: () => CompiledQuery, unsupported?: RegExp): CompiledQuery | null {
  let query: CompiledQuery;
  try {
    query = compile();
  } catch (err) {
    if (err instanceof DialectUnsupportedError) return null;
    throw err;
  }
  const inlined = inlineCtes(query.sql);
  if (inlined === null) return null;
  const text = stripLiterals(inlined);
  if (UNSUPPORTED_TEXT.test(text) || unsupported?.test(text) || text.split(ANTI_JOIN_MARKER).length > 2)
    return null;
  return { sql: booleansAsIntegers(inlined), parameters: query.parameters };
}

/** The text with every string literal emptied, for the construct check. */
function stripLiterals(text: string): string {
  return text.replace(/'(?:[^'\\]|\\.)*'/g, "''");
}
