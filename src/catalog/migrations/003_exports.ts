// Audience exports (Data API v1beta) and their job state: the export row is also the job (leased
// by a runner), and export_token_usage keeps the per-property daily creation tokens, which must
// outlive expired exports.
import type { Kysely } from 'kysely';
import { serialId } from './portable.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audience_exports')
    .addColumn('id', 'integer', serialId(db))
    .addColumn('property_id', 'integer', (c) => c.notNull())
    /** Opaque id of `operations/{operation_id}`. */
    .addColumn('operation_id', 'text', (c) => c.notNull().unique())
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('audience_display_name', 'text', (c) => c.notNull())
    /** The audience definition frozen at create time (proto3 JSON) and its evaluation config. */
    .addColumn('definition', 'text', (c) => c.notNull())
    .addColumn('eval_config', 'text', (c) => c.notNull())
    /** JSON array of dimension names, in the requested order. */
    .addColumn('dimensions', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('begin_creating_time', 'bigint', (c) => c.notNull())
    /** Snapshot instant (µs) and the event store's high-water ingest_seq at create time. */
    .addColumn('as_of', 'bigint', (c) => c.notNull())
    .addColumn('max_ingest_seq', 'bigint', (c) => c.notNull())
    .addColumn('expire_time', 'bigint', (c) => c.notNull())
    .addColumn('percentage_completed', 'real', (c) => c.notNull().defaultTo(0))
    .addColumn('quota_tokens_charged', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('row_count', 'integer')
    .addColumn('error_message', 'text')
    .addColumn('finish_time', 'bigint')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires', 'bigint')
    .execute();
  await db.schema
    .createIndex('audience_exports_property')
    .on('audience_exports')
    .columns(['property_id', 'id'])
    .execute();
  await db.schema
    .createIndex('audience_exports_state')
    .on('audience_exports')
    .columns(['state', 'lease_expires'])
    .execute();
  await db.schema
    .createTable('export_token_usage')
    .addColumn('property_id', 'integer', (c) => c.notNull())
    /** UTC day, YYYY-MM-DD. */
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('tokens', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('export_token_usage_pk', ['property_id', 'day'])
    .execute();
}
