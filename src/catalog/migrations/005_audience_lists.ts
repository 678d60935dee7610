// Data API v1alpha audience lists on the export machinery: an audience list is an
// `audience_exports` row of kind 'list' (same job, snapshot, quotas and expiry as an export).
// Lists made by a recurring audience list carry recurring_id and recurring_day, unique together,
// so the scheduler's createList is idempotent per (recurring list, day). `webhook` is the
// validated WebhookNotification JSON; webhook_stage records which notifications were enqueued
// (0 none, 1 CREATING, 2 the final ACTIVE/FAILED one), so a restart re-enqueues a lost one.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('audience_exports')
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('export'))
    .execute();
  await db.schema.alterTable('audience_exports').addColumn('recurring_id', 'integer').execute();
  await db.schema.alterTable('audience_exports').addColumn('recurring_day', 'text').execute();
  await db.schema.alterTable('audience_exports').addColumn('webhook', 'text').execute();
  await db.schema
    .alterTable('audience_exports')
    .addColumn('webhook_stage', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('audience_exports_kind_property')
    .on('audience_exports')
    .columns(['kind', 'property_id', 'id'])
    .execute();
  await db.schema
    .createIndex('audience_exports_recurring_day')
    .on('audience_exports')
    .columns(['recurring_id', 'recurring_day'])
    .unique()
    .where(sql.ref('recurring_id'), 'is not', null)
    .execute();
}
