// The catalog's migrations and basic types on every catalog engine (SQLite and PostgreSQL): the
// tables exist, ids are assigned and never reused, BIGINT columns and counts come back as JS
// numbers on both, and reopening an up-to-date catalog migrates nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { forEachCatalog } from './helpers/catalogs.ts';
import { catalogKind } from '../src/catalog/db.ts';
import { migrations } from '../src/catalog/migrations/index.ts';

forEachCatalog((catalog) => {
  test('migrations run, ids are never reused, BIGINT and counts are numbers', async () => {
    const slot = await catalog.create();
    const db = await slot.open();
    try {
      assert.equal(catalogKind(db), catalog.name);
      const done = await db
        .selectFrom('kysely_migration' as never)
        .select(sql<string>`name`.as('name'))
        .execute();
      assert.deepEqual(done.map((r) => r.name).sort(), Object.keys(migrations).sort());
      const t = 1_764_000_000_123_456; // µs: beyond 2^32, within 2^53
      const a = await db
        .insertInto('properties')
        .values({
          account_id: 1,
          display_name: 'a',
          time_zone: 'UTC',
          currency_code: 'USD',
          industry_category: 'OTHER',
          create_time: t,
          update_time: t,
          delete_time: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      assert.equal(typeof a.id, 'number');
      assert.equal(a.create_time, t);
      await db.deleteFrom('properties').where('id', '=', a.id).execute();
      const b = await db
        .insertInto('properties')
        .values({
          account_id: 1,
          display_name: 'b',
          time_zone: 'UTC',
          currency_code: 'USD',
          industry_category: 'OTHER',
          create_time: t + 1,
          update_time: t + 1,
          delete_time: null,
        })
        .returning(['id', 'create_time'])
        .executeTakeFirstOrThrow();
      assert.ok(b.id > a.id, 'the id of a deleted newest row is not reused');
      const read = await db.selectFrom('properties').selectAll().executeTakeFirstOrThrow();
      assert.strictEqual(read.create_time, t + 1);
      const n = await db
        .selectFrom('properties')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      assert.strictEqual(n.n, 1);
    } finally {
      await db.destroy();
    }
    const again = await slot.open();
    await again.destroy();
    slot.dispose();
  });
});
