// SQL text helpers for the DuckDB backend. Values always travel as bound parameters ($1, $2...);
// the helpers here exist for the few places where DuckDB needs text: identifiers, which cannot
// be bound, and (audited) string literals.

/**
 * A single-quoted DuckDB string literal. DuckDB strings have no backslash escapes, so doubling
 * the quote is the whole rule; NUL cannot be represented in a literal and is refused.
 * Use only where a bound parameter is impossible; every current caller binds instead.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new TypeError('SQL string literal cannot contain NUL');
  return `'${value.replaceAll("'", "''")}'`;
}

const SIMPLE_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** A double-quoted identifier, accepted only from an allow-list pattern (our own column names). */
export function quoteIdent(name: string): string {
  if (!SIMPLE_IDENTIFIER.test(name))
    throw new TypeError(`not a safe SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}
