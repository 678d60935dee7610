// The webhook outbox in the catalog (v1alpha WebhookNotification deliveries). Every catalog query
// about deliveries is here; WebhookOutbox (src/exports/webhooks.ts) adds sending, back-off and
// the rules. Deliveries are claimed with a lease like export jobs: on PostgreSQL with
// `FOR UPDATE SKIP LOCKED`, so outboxes in several processes never claim one delivery at once.

import { sql, type ExpressionBuilder, type Updateable } from 'kysely';
import { catalogKind, type CatalogDb } from '../db.ts';
import type { CatalogSchema, WebhookDeliveriesTable } from '../schema.ts';

export type DeliveryRow = Omit<WebhookDeliveriesTable, 'id' | 'attempts'> & { id: number; attempts: number };

/**
 * A PENDING delivery `d` that nobody holds a live lease on and that no earlier PENDING delivery
 * of the same (resource, uri) precedes (deliveries of one resource go in order).
 */
function claimable(w: ExpressionBuilder<CatalogSchema & { d: WebhookDeliveriesTable }, 'd'>, now: number) {
  return w.and([
    w('d.state', '=', 'PENDING'),
    w.or([w('d.lease_owner', 'is', null), w('d.lease_expires', '<', now)]),
    w.not(
      w.exists(
        w
          .selectFrom('webhook_deliveries as e')
          .select('e.id')
          .whereRef('e.resource', '=', 'd.resource')
          .whereRef('e.uri', '=', 'd.uri')
          .whereRef('e.id', '<', 'd.id')
          .where('e.state', '=', 'PENDING'),
      ),
    ),
  ]);
}

export class WebhookDeliveryRepository {
  /** Whether the catalog takes row locks (`FOR UPDATE SKIP LOCKED`): PostgreSQL. */
  private readonly rowLocks: boolean;

  constructor(private readonly db: CatalogDb) {
    this.rowLocks = catalogKind(db) === 'postgres';
  }

  /** A new PENDING delivery, due now; its id. */
  async insert(d: {
    resource: string;
    uri: string;
    channelToken: string | null;
    body: string;
    now: number;
  }): Promise<number> {
    const row = await this.db
      .insertInto('webhook_deliveries')
      .values({
        resource: d.resource,
        uri: d.uri,
        channel_token: d.channelToken,
        body: d.body,
        state: 'PENDING',
        attempts: 0,
        create_time: d.now,
        next_attempt_time: d.now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** Deliveries of a resource, oldest first. */
  async byResource(resource: string): Promise<DeliveryRow[]> {
    return this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('resource', '=', resource)
      .orderBy('id')
      .execute();
  }

  /** Deletes DELIVERED and FAILED deliveries created before `before` (µs); returns how many. */
  async purgeFinished(before: number): Promise<number> {
    const r = await this.db
      .deleteFrom('webhook_deliveries')
      .where('state', 'in', ['DELIVERED', 'FAILED'])
      .where('create_time', '<', before)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Leases up to `limit` claimable deliveries that are due, counting the attempt. */
  async claim(owner: string, now: number, leaseMicros: number, limit: number): Promise<DeliveryRow[]> {
    return await this.db
      .updateTable('webhook_deliveries')
      .set({
        lease_owner: owner,
        lease_expires: now + leaseMicros,
        attempts: sql<number>`attempts + 1`,
      })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('webhook_deliveries as d')
          .select('d.id')
          .where('d.next_attempt_time', '<=', now)
          .where((w) => claimable(w, now))
          .orderBy('d.next_attempt_time')
          .orderBy('d.id')
          .limit(limit)
          // PostgreSQL: rows another outbox is claiming right now are skipped, not waited for.
          .$if(this.rowLocks, (q) => q.forUpdate().skipLocked()),
      )
      // Re-checked on the row itself (databases that evaluate the subquery before taking locks).
      .where('state', '=', 'PENDING')
      .where((w) => w.or([w('lease_owner', 'is', null), w('lease_expires', '<', now)]))
      .returningAll()
      .execute();
  }

  /** Earliest next_attempt_time of a claimable delivery (µs), or undefined. */
  async nextDue(now: number): Promise<number | undefined> {
    const r = await this.db
      .selectFrom('webhook_deliveries as d')
      .select((eb) => eb.fn.min('d.next_attempt_time').as('t'))
      .where((w) => claimable(w, now))
      .executeTakeFirst();
    return r?.t === null || r?.t === undefined ? undefined : Number(r.t);
  }

  /** Records an attempt's outcome if `owner` still holds the lease; false when it was lost. */
  async record(id: number, owner: string, values: Updateable<WebhookDeliveriesTable>): Promise<boolean> {
    const r = await this.db
      .updateTable('webhook_deliveries')
      .set(values)
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('state', '=', 'PENDING')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** How many deliveries there are in each state. */
  async countByState(): Promise<{ state: string; n: number }[]> {
    const rows = await this.db
      .selectFrom('webhook_deliveries')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute();
    return rows.map((r) => ({ state: r.state, n: Number(r.n) }));
  }

  /** Attempts made over every delivery. */
  async totalAttempts(): Promise<number> {
    const row = await this.db
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.sum<number>('attempts').as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}
