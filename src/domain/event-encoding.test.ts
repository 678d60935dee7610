// The compact param encoders are on the ingest hot path and were rewritten for speed; the stored
// text must stay byte for byte what the original encoder (reproduced here) wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeParams,
  decodeUserProperties,
  encodeParams,
  encodeUserProperties,
  type ParamValue,
  type Params,
  type UserPropertyValue,
} from './event.ts';

function referenceValue(v: ParamValue): string {
  if ('string_value' in v) return `{"s":${JSON.stringify(v.string_value)}}`;
  if ('int_value' in v) return `{"i":${v.int_value.toString()}}`;
  return `{"d":${Number.isFinite(v.double_value) ? JSON.stringify(v.double_value) : 'null'}}`;
}

function referenceParams(params: Params): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) parts.push(`${JSON.stringify(k)}:${referenceValue(v)}`);
  return `{${parts.join(',')}}`;
}

function referenceUserProperties(props: Record<string, UserPropertyValue>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(props)) {
    const inner = referenceValue(v.value).slice(0, -1);
    parts.push(`${JSON.stringify(k)}:${inner},"t":${v.set_timestamp_micros.toString()}}`);
  }
  return `{${parts.join(',')}}`;
}

const key = fc.oneof(
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,10}$/),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom('', '__proto__', 'a"b', 'a\\b', 'é', '\u0000', '\ud800', 'a b', '😀'),
);
const value: fc.Arbitrary<ParamValue> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }).map((s) => ({ string_value: s })),
  fc.constantFrom('', '"', '\\', '\u2028', '\ud800x', '\u0000').map((s) => ({ string_value: s })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((i) => ({ int_value: i })),
  fc.double().map((d) => ({ double_value: d })),
  fc.constantFrom(-0, 1e21, 5e-324, 0.1, 1.5, Infinity, -Infinity, NaN).map((d) => ({ double_value: d })),
);

function objectOf<T>(entries: [string, T][]): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of entries) {
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

test('encodeParams writes exactly what the reference encoder writes', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(key, value), { maxLength: 8 }), (entries) => {
      const params = objectOf(entries);
      assert.equal(encodeParams(params), referenceParams(params));
    }),
    { numRuns: 2000 },
  );
});

test('encodeUserProperties writes exactly what the reference encoder writes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(key, value, fc.bigInt({ min: 0n, max: 2n ** 63n - 1n })), { maxLength: 6 }),
      (entries) => {
        const props = objectOf(entries.map(([k, v, t]) => [k, { value: v, set_timestamp_micros: t }]));
        assert.equal(encodeUserProperties(props), referenceUserProperties(props));
      },
    ),
    { numRuns: 2000 },
  );
});

test('encoded params and user properties decode to what was encoded', () => {
  const params: Params = {
    page: { string_value: 'a"b\\c é 😀' },
    big: { int_value: 9223372036854775807n },
    neg: { int_value: -9223372036854775808n },
    d: { double_value: 0.1 },
    'odd key"': { string_value: '' },
  };
  const text = encodeParams(params);
  assert.equal(
    text,
    '{"page":{"s":"a\\"b\\\\c é 😀"},"big":{"i":9223372036854775807},"neg":{"i":-9223372036854775808},"d":{"d":0.1},"odd key\\"":{"s":""}}',
  );
  assert.deepEqual(decodeParams(text), params);
  const props = {
    plan: { value: { int_value: 12345678901234567n }, set_timestamp_micros: 1_700_000_000_000_000n },
  };
  assert.equal(encodeUserProperties(props), '{"plan":{"i":12345678901234567,"t":1700000000000000}}');
  assert.deepEqual(decodeUserProperties(encodeUserProperties(props)), props);
  assert.equal(encodeParams({}), '{}');
});
