import type { Kysely } from 'kysely';
import { serialId } from './portable.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audiences')
    .addColumn('id', 'integer', serialId(db))
    .addColumn('property_id', 'integer', (c) => c.notNull().references('properties.id').onDelete('cascade'))
    .addColumn('display_name', 'text', (c) => c.notNull())
    /** The validated definition as proto3 JSON (enum names), re-parsed on read. */
    .addColumn('definition', 'text', (c) => c.notNull())
    .addColumn('builtin', 'text')
    .addColumn('archived', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('create_time', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('audiences_property')
    .on('audiences')
    .columns(['property_id', 'archived'])
    .execute();
}
