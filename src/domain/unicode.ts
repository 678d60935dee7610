// Strings must be valid Unicode. JSON can spell a lone UTF-16 surrogate ("\ud800"), which no
// UTF-8 store can hold (SQLite turned it into U+FFFD); Google refuses such input with
// INVALID_ARGUMENT, and so does audex, in both transports, before any service sees it.

import { errors, type ApiError } from './errors.ts';

// With the u flag a string is read by code points, so this matches a surrogate only when unpaired
// (String.prototype.isWellFormed is Node 20 but not in the ES2023 lib this project compiles with).
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const wellFormed = (s: string) => !LONE_SURROGATE.test(s);

/** The path (`a.b[2]`) of the first string or key holding a lone surrogate, or null. */
export function illFormedStringPath(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return wellFormed(value) ? null : path || '(body)';
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = illFormedStringPath(value[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value)) {
    const at = path ? `${path}.${k}` : k;
    if (!wellFormed(k)) return at;
    const found = illFormedStringPath(v, at);
    if (found !== null) return found;
  }
  return null;
}

/** INVALID_ARGUMENT naming the field, when `value` holds invalid Unicode; else null. */
export function invalidUnicodeError(value: unknown): ApiError | null {
  const at = illFormedStringPath(value);
  return at === null
    ? null
    : errors.invalidField(at, 'contains invalid Unicode (a lone UTF-16 surrogate); send valid UTF-8 text.');
}
