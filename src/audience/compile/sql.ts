// Safe SQL fragments. A fragment's text comes only from string literals written in this code base
// (template strings of the `sql` tag) and from allow-listed identifiers; every value arrives as a
// bound parameter. There is deliberately no raw() escape hatch: user strings cannot reach the SQL text.

/** A value bound to a placeholder. */
export type SqlValue = string | number | bigint | boolean | null;

const PARAM = Symbol('param');
const FRAGMENT = Symbol('fragment');

export interface Param {
  readonly [PARAM]: true;
  readonly value: SqlValue;
}

export interface Fragment {
  readonly [FRAGMENT]: true;
  /** Alternating text pieces and parameters, in order. */
  readonly parts: readonly (string | Param)[];
}

export type Slot = Fragment | Param;

export function param(value: SqlValue): Param {
  return Object.freeze({ [PARAM]: true as const, value });
}

function isParam(x: unknown): x is Param {
  return typeof x === 'object' && x !== null && PARAM in x;
}

function isFragment(x: unknown): x is Fragment {
  return typeof x === 'object' && x !== null && FRAGMENT in x;
}

function fragment(parts: (string | Param)[]): Fragment {
  return Object.freeze({ [FRAGMENT]: true as const, parts: Object.freeze(parts) });
}

/** Tagged template: literal text plus slots that must be fragments or parameters. */
export function sql(strings: TemplateStringsArray, ...slots: Slot[]): Fragment {
  const parts: (string | Param)[] = [];
  strings.forEach((text, i) => {
    if (text) parts.push(text);
    if (i < slots.length) {
      const slot = slots[i];
      if (isFragment(slot)) parts.push(...slot.parts);
      else if (isParam(slot)) parts.push(slot);
      else throw new UnsafeSqlError('an interpolated value must be a fragment or a bound parameter');
    }
  });
  return fragment(parts);
}

export class UnsafeSqlError extends Error {
  override readonly name = 'UnsafeSqlError';
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * An identifier from an allow-list (column registry, or compiler-chosen aliases). Anything else
 * throws, so a field name from user JSON can never become SQL text.
 */
export function ident(name: string, allowed?: ReadonlySet<string>): Fragment {
  if (!IDENTIFIER.test(name) || (allowed && !allowed.has(name))) {
    throw new UnsafeSqlError(`identifier not allowed: ${JSON.stringify(name)}`);
  }
  return fragment([name]);
}

/** Separators are a closed set. */
export type Separator = ', ' | ',\n' | ' AND ' | ' OR ' | ' UNION ALL ' | ' INTERSECT ' | '\n';

export function join(items: readonly Fragment[], separator: Separator): Fragment {
  const parts: (string | Param)[] = [];
  items.forEach((item, i) => {
    if (i > 0) parts.push(separator);
    parts.push(...item.parts);
  });
  return fragment(parts);
}

export const TRUE = sql`TRUE`;
export const FALSE = sql`FALSE`;

export function and(items: readonly Fragment[]): Fragment {
  if (items.length === 0) return TRUE;
  if (items.length === 1) return items[0]!;
  return sql`(${join(items, ' AND ')})`;
}

export function or(items: readonly Fragment[]): Fragment {
  if (items.length === 0) return FALSE;
  if (items.length === 1) return items[0]!;
  return sql`(${join(items, ' OR ')})`;
}

/** The compiled query: frozen text plus the values for its placeholders, in placeholder order. */
export interface CompiledQuery {
  readonly sql: string;
  readonly parameters: readonly SqlValue[];
}

/**
 * Numbers the parameters in order of first appearance. A Param object used in several places keeps
 * one placeholder (so the engine can share the expression); equal values from different Param
 * objects stay separate, so a query's text never depends on the values.
 */
export function render(f: Fragment, placeholder: (index: number, value: SqlValue) => string): CompiledQuery {
  let text = '';
  const parameters: SqlValue[] = [];
  const seen = new Map<Param, string>();
  for (const part of f.parts) {
    if (typeof part === 'string') text += part;
    else {
      let ph = seen.get(part);
      if (ph === undefined) {
        parameters.push(part.value);
        ph = placeholder(parameters.length, part.value);
        seen.set(part, ph);
      }
      text += ph;
    }
  }
  return Object.freeze({ sql: text, parameters: Object.freeze(parameters) });
}
