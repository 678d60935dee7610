// Typed event parameters and numbers on ClickHouse 18.16 (src/audience/compile/clickhouse-json.ts),
// against a real server (Debian's 18.16, started privately; the suite fails when it is missing):
// - a param's arm is read from the text audex stores (encodeParams / encodeUserProperties) exactly
//   as the reference reads it, for hostile keys and values (a key holding `"k":`, a string value
//   holding the whole encoding of another entry, escapes, emoji, integers beyond 2^53);
// - text becomes the double JavaScript's Number() gives, where 18.16's toFloat64OrNull alone is one
//   unit off for about one random double in nine (the suite would fail with it);
// - a double prints as JavaScript's String() prints it.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { doubleOfText, jsNumberText, typedArmText } from '../src/audience/compile/clickhouse-json.ts';
import { clickhouseLiteral } from '../src/audience/compile/clickhouse-dialect.ts';
import { join, param, sql, type Fragment } from '../src/audience/compile/sql.ts';
import { chText } from '../src/storage/clickhouse/connection.ts';
import { encodeParams, encodeUserProperties, paramString, type Params } from '../src/domain/event.ts';
import { sharedClickHouse, type ClickHouseServer } from './helpers/clickhouse-server.ts';

let server: ClickHouseServer;
before(async () => {
  server = await sharedClickHouse();
});
after(() => server?.stop());

async function rows(f: Fragment): Promise<Record<string, unknown>[]> {
  const text = chText(f);
  const res = await fetch(`${server.nodes[0]!.httpUrl}/?default_format=JSONEachRow`, {
    method: 'POST',
    body: text,
  });
  const body = await res.text();
  assert.equal(res.status, 200, body);
  return body
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const HOSTILE_PARAMS: Params = {
  'x"k': { string_value: 'not k' },
  s: { int_value: 5n },
  k: { string_value: 'he said "hi" \\ \u0001 \n 😀 {}},"k":{"s":"fake"}' },
  'a/b': { double_value: 1e21 },
  nan: { double_value: Number.NaN },
  big: { int_value: 12345678901234567890n },
  neg: { int_value: -9007199254740993n },
  'é k': { double_value: 0.1 },
  '': { string_value: '' },
  '\\': { double_value: -0 },
};

describe('typed params on ClickHouse 18.16', () => {
  test('every arm of every key reads as the reference reads it, absent keys as NULL', async () => {
    const docs: [string, Record<string, Params[string] | undefined>][] = [
      [encodeParams(HOSTILE_PARAMS), HOSTILE_PARAMS],
      [
        encodeUserProperties({
          k: { value: { double_value: 2.5 }, set_timestamp_micros: 123n },
          s: { value: { string_value: 'x' }, set_timestamp_micros: 1n },
        }),
        { k: { double_value: 2.5 }, s: { string_value: 'x' } },
      ],
    ];
    for (const [doc, values] of docs) {
      for (const key of [...Object.keys(values), 'missing', 'i', 't', 'd']) {
        const arm = (a: 's' | 'i' | 'd') => typedArmText(sql`${param(doc)}`, key, a);
        const [row] = await rows(sql`SELECT ${arm('s')} AS s, ${arm('i')} AS i, ${arm('d')} AS d`);
        const v = values[key];
        const want = {
          s: v && 'string_value' in v ? v.string_value : null,
          i: v && 'int_value' in v ? v.int_value.toString() : null,
          // The stored text of a double is String(d): paramString's form.
          d: v && 'double_value' in v ? paramString(v) : null,
        };
        assert.deepEqual(row, want, `${JSON.stringify(key)} in ${doc}`);
      }
    }
  });

  test('random params: string and number arms round-trip', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.string({ maxLength: 6 }),
          fc.oneof(
            fc.string({ unit: 'grapheme', maxLength: 10 }).map((s) => ({ string_value: s })),
            fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((i) => ({ int_value: i })),
            fc.double().map((d) => ({ double_value: d })),
          ),
          { maxKeys: 5 },
        ),
        async (params) => {
          const doc = encodeParams(params);
          for (const key of Object.keys(params)) {
            const arm = (a: 's' | 'i' | 'd') => typedArmText(sql`${param(doc)}`, key, a);
            const [row] = await rows(sql`SELECT ${arm('s')} AS s, ${arm('i')} AS i, ${arm('d')} AS d`);
            const v = params[key]!;
            assert.deepEqual(row, {
              s: 'string_value' in v ? v.string_value : null,
              i: 'int_value' in v ? v.int_value.toString() : null,
              d: 'double_value' in v ? paramString(v) : null,
            });
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('numbers on ClickHouse 18.16', () => {
  /** Doubles of every magnitude, from random bits, and decimals of few digits. */
  function doubles(): number[] {
    const out: number[] = [
      0.1, 0.2, 0.30000000000000004, 1e21, 1e-7, 2.2250738585072014e-308, 1.7976931348623157e308,
    ];
    const buf = Buffer.alloc(8);
    let seed = 20261203;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    while (out.length < 1500) {
      for (let j = 0; j < 8; j++) buf[j] = Math.floor(next() * 256);
      const d = buf.readDoubleLE(0);
      // Denormals below 1e-307 are left out: 18.16 reads some as NULL (docs/audiences.md §8).
      if (Number.isFinite(d) && (d === 0 || Math.abs(d) > 1e-300)) out.push(d);
      out.push(Math.round(next() * 1e6) / 100, next() * 10 ** Math.floor(next() * 40 - 20));
    }
    return out;
  }

  test('a double prints as String() prints it, and its text reads back as the same double', async () => {
    const values = doubles();
    const texts = values.map((d) => String(d));
    const list = sql`[${join(
      texts.map((t) => sql`${param(t)}`),
      ', ',
    )}]`;
    const got = await rows(
      sql`SELECT s, ${jsNumberText(doubleOfText(sql`s`))} AS back, toString(toFloat64OrNull(s)) AS plain FROM (SELECT arrayJoin(${list}) AS s)`,
    );
    assert.equal(got.length, texts.length);
    let plainOff = 0;
    for (const row of got) {
      assert.equal(row.back, row.s, `${String(row.s)} read and printed back`);
      if (Number(row.plain) !== Number(row.s)) plainOff++;
    }
    // The correction does work: toFloat64OrNull alone misreads some of these.
    assert.ok(plainOff > 0, 'toFloat64OrNull alone read every text exactly (the check is void)');
  });

  test('texts of other layouts read as Number() reads them', async () => {
    const texts = [
      '+5',
      '.5',
      '5.',
      '1E2',
      '00012',
      '0.000123',
      '-0',
      '1.50',
      '12e-1',
      '-3.25e+2',
      '1e400',
      '123456789012345.6',
      '9007199254740993',
      '-9007199254740993',
      '12345678901234567890',
      '0.1e1',
      '1.7976931348623157e308',
    ];
    const list = sql`[${join(
      texts.map((t) => sql`${param(t)}`),
      ', ',
    )}]`;
    const got = await rows(
      sql`SELECT s, toString(${doubleOfText(sql`s`)}) AS v FROM (SELECT arrayJoin(${list}) AS s)`,
    );
    for (const row of got) {
      const want = Number(row.s);
      const v = row.v === 'inf' ? Infinity : Number(row.v);
      assert.ok(v === want, `${String(row.s)}: ${String(row.v)}, Number() gives ${want}`);
    }
  });

  test('a literal double compares equal to its own text read back', async () => {
    const [row] = await rows(
      sql`SELECT ${doubleOfText(sql`${param('0.30000000000000004')}`)} = ${param(0.1 + 0.2)} AS same`,
    );
    assert.equal(Number(row!.same), 1);
    assert.ok(clickhouseLiteral(0.1 + 0.2).startsWith('reinterpretAsFloat64'));
  });
});
