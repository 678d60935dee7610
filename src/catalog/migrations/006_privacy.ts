// Privacy and data lifecycle (src/privacy/):
// - properties.delete_time: a deleted property is in the trash (NOT_FOUND to every read, no
//   collection) until delete_time + 35 days, when it is purged with its data; null = live.
// - data_retention_settings: the property's DataRetentionSettings singleton; a property without a
//   row keeps everything and reports RETENTION_DURATION_UNSPECIFIED (src/privacy/retention.ts says
//   why GA4's two-month default is not applied).
// - user_deletions: the journal of acknowledged SubmitUserDeletion requests. A row is written (and
//   committed) before the request is answered and marked done when every copy of the user's data
//   is gone, so a crash in between is finished at the next start. `subject` (the id to delete) is
//   cleared once done: the journal keeps only a salted hash for the audit trail.
import type { Kysely } from 'kysely';
import { serialId } from './portable.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('properties').addColumn('delete_time', 'bigint').execute();
  await db.schema
    .createTable('data_retention_settings')
    .addColumn('property_id', 'integer', (c) =>
      c.primaryKey().references('properties.id').onDelete('cascade'),
    )
    .addColumn('event_data_retention', 'text', (c) => c.notNull())
    .addColumn('user_data_retention', 'text', (c) => c.notNull())
    .addColumn('reset_user_data_on_new_activity', 'integer', (c) => c.notNull())
    .addColumn('update_time', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('user_deletions')
    .addColumn('id', 'integer', serialId(db))
    .addColumn('property_id', 'integer', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('subject', 'text')
    .addColumn('subject_hash', 'text', (c) => c.notNull())
    .addColumn('request_time', 'bigint', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('done_time', 'bigint')
    .addColumn('events_deleted', 'integer')
    .addColumn('last_error', 'text')
    .execute();
  await db.schema.createIndex('user_deletions_state').on('user_deletions').column('state').execute();
}
