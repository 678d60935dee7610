// The string form of double params in SQL (dialect.jsNumberText) equals JavaScript's String(n), for
// any finite double and whatever text the store holds ("50.0" from an import, "50" from ingest).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { duckdbDialect } from '../src/audience/compile/dialect.ts';
import { param, render, sql } from '../src/audience/compile/sql.ts';
import { useTestDb } from './audience-duckdb.helpers.ts';

const db = useTestDb();

async function jsText(stored: string): Promise<string | null> {
  const x = sql`TRY_CAST(${param(stored)} AS DOUBLE)`;
  const q = render(sql`SELECT ${duckdbDialect.jsNumberText(x)}`, (i) => `$${i}`);
  const r = await db.connection.runAndReadAll(q.sql, q.parameters as string[]);
  return r.getRows()[0]?.[0] as string | null;
}

test('jsNumberText matches String(n) for random doubles', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.integer().map((n) => n / 1000),
        fc.constantFrom(1e-7, 1e21, 2 ** 53, 2 ** 53 + 2, 1e16, -0),
      ),
      async (n) => {
        assert.equal(await jsText(JSON.stringify(n)), String(n));
        assert.equal(
          await jsText(n.toExponential()),
          String(n),
          'from another textual form of the same double',
        );
      },
    ),
    { numRuns: 1000 },
  );
});

test('imported text ("50.0", "1e-07") prints as JavaScript would', async () => {
  assert.equal(await jsText('50.0'), '50');
  assert.equal(await jsText('1e-07'), '1e-7');
  assert.equal(await jsText('2.5e-06'), '0.0000025');
  assert.equal(await jsText('1e+20'), '100000000000000000000');
});
