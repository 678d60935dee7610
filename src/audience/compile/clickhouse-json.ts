// Event parameters, user properties and numbers in ClickHouse 18.16, exact for what audex stores.
//
// 18.16 has no JSONExtract*: only the visitParam* functions, which find the FIRST `"name":` in the
// whole text whatever its depth, so they cannot address `event_params.k.s` by themselves (a key
// that ends in an escaped quote, `x"k`, is written `"x\"k":` and holds `"k":`). audex writes the
// params of a ClickHouse event with one encoder (domain/event.ts encodeParams /
// encodeUserProperties, through storage/clickhouse/codec.ts; `audex migrate` re-encodes DuckDB's
// events the same way): `{"key":{"s":"…"}|{"i":digits}|{"d":number|null}[,"t":digits],…}`,
// compact, keys as JSON.stringify writes them, each value an object of scalars. For that grammar
// one RE2 expression anchored at the start walks the top-level entries (a key string, then a flat
// object whose strings may hold any character) up to the wanted key and captures its value object;
// inside that object the arm is the first key, so visitParamHas / visitParamExtractString /
// visitParamExtractRaw read it exactly (visitParamExtractString unescapes JSON, \u escapes and
// surrogate pairs included). An import that writes event_params on ClickHouse must write this
// same encoding.
//
// Numbers: 18.16's text-to-double conversion (toFloat64OrNull) is off by one unit in the last
// place for about one random double in nine (and rejects a leading '+'), so a bare toFloat64OrNull
// would move a value across a threshold the reference (JavaScript's Number) puts it on. exactDouble
// corrects it: the right double is the parsed one or a neighbour (measured: never further), and it
// is the one whose shortest decimal form (toString, which 18.16 prints exactly) denotes the same
// decimal as the text. That holds for every text JavaScript's String(d) wrote (the "d" arm), every
// integer below 2^53 and every decimal with at most 15 significant digits (its double prints back
// as the same decimal); a string param of 16+ significant digits that is not its double's shortest
// form keeps the parsed value (at most one unit off; docs/audiences.md §8).

import { param, sql, type Fragment, type Param } from './sql.ts';

/** A top-level key's value object: a flat object of scalars and strings. */
const STRING_RE = '"(?:[^"\\\\]|\\\\.)*"';
const VALUE_RE = `\\{(?:[^"\\\\{}]|${STRING_RE})*\\}`;

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** The RE2 pattern whose group 1 is the value object of top-level `key` in audex's param encoding. */
export function paramValuePattern(key: string): string {
  return `^\\{(?:${STRING_RE}:${VALUE_RE},)*${escapeRegex(JSON.stringify(key))}:(${VALUE_RE})`;
}

/** The arms of a typed value that jsonText reads. */
const ARMS: ReadonlySet<string> = new Set(['s', 'i', 'd']);

/** The keys of a path written by clickhouseJsonPath, or null when it is not [key, arm]. */
export function typedArmPath(path: Param): { key: string; arm: 's' | 'i' | 'd' } | null {
  if (typeof path.value !== 'string') return null;
  const keys: unknown = JSON.parse(path.value);
  if (!Array.isArray(keys) || keys.length !== 2) return null;
  const [key, arm] = keys as unknown[];
  if (typeof key !== 'string' || typeof arm !== 'string' || !ARMS.has(arm)) return null;
  return { key, arm: arm as 's' | 'i' | 'd' };
}

/**
 * One arm of a typed param value (`{"s":…}`, `{"i":…}`, `{"d":…}`) as text: the unescaped string,
 * or the number's stored digits; NULL when the key is absent, the value has another arm, or the
 * double is JSON null (a non-finite value).
 */
export function typedArmText(json: Fragment, key: string, arm: 's' | 'i' | 'd'): Fragment {
  const value = sql`extract(${json}, ${param(paramValuePattern(key))})`;
  const a = param(arm);
  const read = arm === 's' ? sql`visitParamExtractString(__v, ${a})` : sql`visitParamExtractRaw(__v, ${a})`;
  const nonNull = arm === 'd' ? sql` AND visitParamExtractRaw(__v, ${a}) != 'null'` : sql``;
  return sql`arrayMap(__v -> if(visitParamHas(__v, ${a})${nonNull}, ${read}, NULL), [${value}])[1]`;
}

/**
 * The decimal a number's text denotes, as `digits e exponent` (digits without leading or trailing
 * zeros, the exponent of the first one; '0' for zero): two texts of the same decimal have the same
 * key, whatever their layout (`0.00012`, `1.2e-4`, `+12e-5`).
 */
function decimalKey(text: Fragment): Fragment {
  return sql`arrayMap((__neg, __m, __e) -> arrayMap((__int, __all) -> arrayMap((__z, __dig) -> if(__dig = '', '0', concat(if(__neg, '-', ''), __dig, 'e', toString(__e + length(__int) - __z - 1))), [length(__all) - length(replaceRegexpOne(__all, '^0+', ''))], [replaceRegexpOne(replaceRegexpOne(__all, '^0+', ''), '0+$', '')])[1], [extract(__m, '^([0-9]*)')], [replaceOne(__m, '.', '')])[1], [substring(${text}, 1, 1) = '-'], [extract(replaceRegexpOne(${text}, '^[+-]', ''), '^([0-9]*[.]?[0-9]*)')], [toInt64OrZero(replaceRegexpOne(extract(${text}, '[eE]([+-]?[0-9]+)$'), '^[+]', ''))])[1]`;
}

/** The double next to `x` in magnitude, `step` = 1 (away from zero) or -1 (towards it). */
function neighbour(x: Fragment, step: 1 | -1): Fragment {
  const bits = sql`reinterpretAsUInt64(reinterpretAsString(${x}))`;
  return step === 1
    ? sql`reinterpretAsFloat64(reinterpretAsString(${bits} + 1))`
    : sql`reinterpretAsFloat64(reinterpretAsString(${bits} - 1))`;
}

/**
 * A text as the double JavaScript's Number() gives (NULL when 18.16 does not read it as a number):
 * the parsed value, or the neighbour whose shortest form denotes the text's decimal (see header).
 */
export function doubleOfText(text: Fragment): Fragment {
  const key = decimalKey(sql`__s`);
  const p = sql`assumeNotNull(__p)`;
  const candidates = sql`[${p}, ${neighbour(p, -1)}, ${neighbour(p, 1)}]`;
  const corrected = sql`arrayMap(__p -> if(__p IS NULL OR NOT isFinite(__p), __p, arrayMap(__c -> if(empty(__c), __p, __c[1]), [arrayFilter(__x -> ifNull(${decimalKey(sql`toString(__x)`)} = ${key}, 0), ${candidates})])[1]), [toFloat64OrNull(replaceRegexpOne(__s, '^[+]', ''))])[1]`;
  // Integers of up to 18 digits through Int64: the conversion rounds to nearest, ties to even, as Number() does.
  return sql`arrayMap(__s -> if(match(__s, '^-?[0-9]{1,18}$'), toFloat64(toInt64OrZero(__s)), ${corrected}), [${text}])[1]`;
}

/**
 * A double as JavaScript's String(n) prints it: 18.16's toString gives the same shortest digits
 * and the same choice of layout, but writes no '+' in a positive exponent and keeps the sign of
 * -0; NULL when not finite.
 */
export function jsNumberText(x: Fragment): Fragment {
  return sql`arrayMap(__n -> if(NOT isFinite(__n), NULL, if(__n = 0, '0', replaceRegexpOne(toString(__n), 'e([0-9])', 'e+\\\\1'))), [${x}])[1]`;
}
