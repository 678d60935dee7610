// Webhook outbox (v1alpha WebhookNotification deliveries, retried with backoff and leased like
// export jobs) and recurring audience lists with their per-day claims. See src/exports/webhooks.ts
// and src/exports/recurring.ts for the rules these tables carry.
import type { Kysely } from 'kysely';
import { serialId } from './portable.ts';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'integer', serialId(db))
    /** The notified resource, e.g. `properties/1/audienceLists/5`; deliveries of one (resource, uri) go in id order. */
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('uri', 'text', (c) => c.notNull())
    .addColumn('channel_token', 'text')
    /** The resource JSON (proto3 JSON) without `sentTimestamp`, which is added at each attempt. */
    .addColumn('body', 'text', (c) => c.notNull())
    /** 'PENDING' | 'DELIVERED' | 'FAILED'. */
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('create_time', 'bigint', (c) => c.notNull())
    .addColumn('next_attempt_time', 'bigint', (c) => c.notNull())
    .addColumn('last_attempt_time', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('delivered_time', 'bigint')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires', 'bigint')
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_due')
    .on('webhook_deliveries')
    .columns(['state', 'next_attempt_time'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_resource')
    .on('webhook_deliveries')
    .columns(['resource', 'uri', 'id'])
    .execute();

  await db.schema
    .createTable('recurring_audience_lists')
    .addColumn('id', 'integer', serialId(db))
    .addColumn('property_id', 'integer', (c) => c.notNull())
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('audience_display_name', 'text', (c) => c.notNull())
    /** JSON array of dimension names, in the requested order. */
    .addColumn('dimensions', 'text', (c) => c.notNull())
    /**
     * activeDaysRemaining at creation (after defaulting/coercion). The current value is derived:
     * active_days minus the days claimed and finished (DONE or FAILED) in recurring_list_days, so
     * recording a day's list is one UPDATE and a crash can never lose or double a decrement.
     */
    .addColumn('active_days', 'integer', (c) => c.notNull())
    /** JSON `{uri, channelToken?}` or null. */
    .addColumn('webhook', 'text')
    /** The property's IANA time zone, captured at create time: it defines the "days". */
    .addColumn('time_zone', 'text', (c) => c.notNull())
    .addColumn('create_time', 'bigint', (c) => c.notNull())
    /** 1 once every active day is used up (a hint that keeps the scheduler's scan short). */
    .addColumn('exhausted', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('recurring_audience_lists_property')
    .on('recurring_audience_lists')
    .columns(['property_id', 'id'])
    .execute();
  await db.schema
    .createIndex('recurring_audience_lists_exhausted')
    .on('recurring_audience_lists')
    .columns(['exhausted'])
    .execute();

  await db.schema
    .createTable('recurring_list_days')
    .addColumn('recurring_id', 'integer', (c) =>
      c.notNull().references('recurring_audience_lists.id').onDelete('cascade'),
    )
    /** Property-local YYYY-MM-DD: the last complete day the list covers. */
    .addColumn('day', 'text', (c) => c.notNull())
    /** 'CLAIMED' (list not recorded yet) | 'DONE' | 'FAILED' (gave up; no list that day). */
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('list_name', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('claim_time', 'bigint', (c) => c.notNull())
    .addColumn('done_time', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('next_attempt_time', 'bigint')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires', 'bigint')
    /** The day claim: only the instance whose INSERT succeeds makes that day's list. */
    .addPrimaryKeyConstraint('recurring_list_days_pk', ['recurring_id', 'day'])
    .execute();
  await db.schema
    .createIndex('recurring_list_days_state')
    .on('recurring_list_days')
    .columns(['state', 'lease_expires'])
    .execute();
}
