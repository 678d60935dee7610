// The one reader of proto3 JSON int64 values, shared by every endpoint (audience numeric filters,
// :query offset/limit, …), so all of them accept and refuse the same forms:
// - a JSON string of decimal digits with an optional '-' sign ("5", "-12", "0042"); no spaces,
//   no '+', no exponent or fraction (Google's parsers disagree on those; audex refuses them);
// - a JSON number that is an integer (5, 1e2) and exact in a double (within ±2^53): a larger
//   number has already been rounded by the JSON parser, so its value is unknown; send a string;
// - either way within [-2^63, 2^63 - 1], else "out of the int64 range".

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

const DIGITS = /^-?[0-9]+$/;

/** The value as a bigint, or a description of what is wrong with it (for a field violation). */
export function readInt64Json(value: unknown): { value: bigint } | { problem: string } {
  let n: bigint;
  if (typeof value === 'string') {
    if (!DIGITS.test(value)) {
      return { problem: `must be an int64 as a decimal string (got ${JSON.stringify(value.slice(0, 40))})` };
    }
    n = BigInt(value);
  } else if (typeof value === 'number') {
    if (!Number.isInteger(value)) return { problem: `must be an integer (got ${value})` };
    n = BigInt(value);
    if (n >= INT64_MIN && n <= INT64_MAX && !Number.isSafeInteger(value)) {
      return {
        problem: `must be an integer within ±2^53 when sent as a JSON number (got ${value}); send larger values as a string`,
      };
    }
  } else {
    return {
      problem: `must be an int64, as a JSON string or number (got ${value === null ? 'null' : typeof value})`,
    };
  }
  if (n < INT64_MIN || n > INT64_MAX) return { problem: 'is out of the int64 range' };
  return { value: n };
}
