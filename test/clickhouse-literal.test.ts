// The ClickHouse dialect's value escaping (clickhouseLiteral): 18.16 has no server-side query
// parameters, so every value reaches the SQL as a literal written by this one function. The
// expected texts are pinned, and each hostile value is sent to a real server (Debian's 18.16,
// started privately; the suite fails when it is missing) and must come back unchanged, alone and
// inside a comparison, so no value can end the literal early or change the statement.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { clickhouseLiteral, clickhouseDialect } from '../src/audience/compile/clickhouse-dialect.ts';
import { param, render, sql } from '../src/audience/compile/sql.ts';
import { sharedClickHouse, type ClickHouseServer } from './helpers/clickhouse-server.ts';

const HOSTILE = [
  '',
  "'",
  "''",
  "\\'",
  '\\',
  '\\\\',
  "a'b",
  "'); DROP TABLE events; --",
  "x' OR 1=1 --",
  '\0',
  'nul\0inside',
  '\n\r\t',
  'tab\there',
  'é',
  '日本語',
  '😀 emoji',
  '\u2028\u2029',
  '\x7f\x01\x1f',
  '{p1:String}',
  '$1 ? :name',
  '`backtick`',
  '"double"',
  '/* comment */',
  '-- comment',
];

describe('clickhouseLiteral', () => {
  test('pinned spellings', () => {
    assert.equal(clickhouseLiteral(null), 'NULL');
    assert.equal(clickhouseLiteral(true), '1');
    assert.equal(clickhouseLiteral(false), '0');
    assert.equal(clickhouseLiteral(42), '42');
    assert.equal(clickhouseLiteral(-7), '(-7)');
    assert.equal(clickhouseLiteral(9223372036854775807n), '9223372036854775807');
    assert.equal(clickhouseLiteral(-9223372036854775808n), '(-9223372036854775808)');
    assert.equal(clickhouseLiteral(0.1), "reinterpretAsFloat64(unhex('9A9999999999B93F'))");
    assert.equal(clickhouseLiteral("a'b\\c\0"), "'a\\'b\\\\c\\0'");
    assert.equal(clickhouseLiteral('line\nnext'), "'line\\nnext'");
  });

  test('refuses what it cannot write exactly', () => {
    assert.throws(() => clickhouseLiteral(1n << 64n), RangeError);
    assert.throws(() => clickhouseLiteral(-(1n << 63n) - 1n), RangeError);
    assert.throws(() => clickhouseLiteral('lone \ud800 surrogate'), TypeError);
    assert.throws(() => clickhouseLiteral('\udc00'), TypeError);
  });

  test('the dialect placeholder is the literal: a rendered fragment has no parameter text left', () => {
    const q = render(sql`SELECT ${param("x'")} = ${param(3n)}`, (i, v) =>
      clickhouseDialect.placeholder(i, v),
    );
    assert.equal(q.sql, "SELECT 'x\\'' = 3");
  });
});

describe('clickhouseLiteral against ClickHouse 18.16', () => {
  let server: ClickHouseServer;
  before(async () => {
    server = await sharedClickHouse();
  });
  after(() => server?.stop());

  async function query(text: string): Promise<string> {
    const res = await fetch(`${server.nodes[0]!.httpUrl}/?default_format=JSONEachRow`, {
      method: 'POST',
      body: text,
    });
    const body = await res.text();
    assert.equal(res.status, 200, `${text}: ${body}`);
    return body;
  }

  test('hostile strings round-trip unchanged and compare equal to themselves only', async () => {
    for (const s of HOSTILE) {
      const lit = clickhouseLiteral(s);
      const body = await query(
        `SELECT ${lit} AS v, ${lit} = ${clickhouseLiteral(s + 'x')} AS other, length(${lit}) AS n`,
      );
      const row = JSON.parse(body) as { v: string; other: number; n: string | number };
      assert.equal(row.v, s, JSON.stringify(s));
      assert.equal(Number(row.other), 0);
      assert.equal(Number(row.n), Buffer.byteLength(s, 'utf8'));
    }
  });

  test('random strings, integers and doubles round-trip exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', maxLength: 12 }),
        fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        async (s, i, d) => {
          const body = await query(
            `SELECT ${clickhouseLiteral(s)} AS s, toString(toInt64(${clickhouseLiteral(i)})) AS i, ${clickhouseLiteral(d)} = ${clickhouseLiteral(d)} AS same, toString(${clickhouseLiteral(d)}) AS d`,
          );
          const row = JSON.parse(body) as { s: string; i: string; same: number; d: string };
          assert.equal(row.s, s);
          assert.equal(row.i, i.toString());
          assert.equal(Number(row.same), 1);
          assert.equal(Number(row.d), Object.is(d, -0) ? 0 : d);
        },
      ),
      { numRuns: 60 },
    );
  });
});
