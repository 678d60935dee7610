// Recurring audience lists in the catalog: the lists and their per-day claims
// (recurring_list_days). Every catalog query about them is here; RecurringScheduler
// (src/exports/recurring.ts) holds the schedule and the rules (its header says why a day is
// claimed by an INSERT of its primary key, and how a lapsed claim is resumed).

import { sql, type Insertable } from 'kysely';
import type { CatalogDb } from '../db.ts';
import type { RecurringAudienceListsTable, RecurringListDaysTable } from '../schema.ts';

/** A recurring list with its attempted-day count and latest attempted day. */
export type RecurringDbRow = Omit<RecurringAudienceListsTable, 'id' | 'exhausted'> & {
  id: number;
  exhausted: number;
  used: number | bigint;
  /** The latest attempted (DONE or FAILED) day, null before the first. */
  last_used_day: string | null;
};

export type DayRow = Omit<RecurringListDaysTable, 'attempts'> & { attempts: number };

export class RecurringListRepository {
  constructor(private readonly db: CatalogDb) {}

  async insert(values: Insertable<RecurringAudienceListsTable>): Promise<number> {
    const { id } = await this.db
      .insertInto('recurring_audience_lists')
      .values(values)
      .returning('id')
      .executeTakeFirstOrThrow();
    return id;
  }

  private rows() {
    return this.db
      .selectFrom('recurring_audience_lists as r')
      .selectAll('r')
      .select((eb) =>
        eb
          .selectFrom('recurring_list_days as d')
          .select((e) => e.fn.countAll<number>().as('n'))
          .whereRef('d.recurring_id', '=', 'r.id')
          .where('d.state', 'in', ['DONE', 'FAILED'])
          .as('used'),
      )
      .select((eb) =>
        eb
          .selectFrom('recurring_list_days as d')
          .select((e) => e.fn.max('d.day').as('m'))
          .whereRef('d.recurring_id', '=', 'r.id')
          .where('d.state', 'in', ['DONE', 'FAILED'])
          .as('last_used_day'),
      )
      .$narrowType<{ used: number; last_used_day: string | null }>();
  }

  async byId(id: number): Promise<RecurringDbRow | undefined> {
    return this.rows().where('r.id', '=', id).executeTakeFirst();
  }

  async find(propertyId: number, id: number): Promise<RecurringDbRow | undefined> {
    return this.rows().where('r.property_id', '=', propertyId).where('r.id', '=', id).executeTakeFirst();
  }

  /** A property's recurring lists, newest first, with id < before (keyset paging). */
  async list(propertyId: number, before: number | null, limit: number): Promise<RecurringDbRow[]> {
    let q = this.rows().where('r.property_id', '=', propertyId);
    if (before !== null) q = q.where('r.id', '<', before);
    return q.orderBy('r.id', 'desc').limit(limit).execute();
  }

  /** The lists with days left, each with its latest claimed day and its count of open claims. */
  async unexhausted() {
    return this.rows()
      .where('r.exhausted', '=', 0)
      .select((eb) => [
        eb
          .selectFrom('recurring_list_days as d')
          .select((e) => e.fn.max('d.day').as('m'))
          .whereRef('d.recurring_id', '=', 'r.id')
          .as('last_day'),
        eb
          .selectFrom('recurring_list_days as d')
          .select((e) => e.fn.countAll<number>().as('n'))
          .whereRef('d.recurring_id', '=', 'r.id')
          .where('d.state', '=', 'CLAIMED')
          .as('open'),
      ])
      .execute();
  }

  /** Names of the AudienceLists a recurring list made, newest first. */
  async listNames(recurringId: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('recurring_list_days')
      .select('list_name')
      .where('recurring_id', '=', recurringId)
      .where('state', '=', 'DONE')
      .orderBy('day', 'desc')
      .execute();
    return rows.map((r) => r.list_name!);
  }

  /**
   * Leases open claims whose lease lapsed and whose retry time has come (one statement: on
   * PostgreSQL a concurrent claimer re-checks the lease on the updated row and skips it).
   */
  async resumeLapsed(owner: string, now: number, leaseMicros: number): Promise<DayRow[]> {
    return this.db
      .updateTable('recurring_list_days')
      .set({ lease_owner: owner, lease_expires: now + leaseMicros, attempts: sql<number>`attempts + 1` })
      .where('state', '=', 'CLAIMED')
      .where((w) => w.or([w('lease_owner', 'is', null), w('lease_expires', '<', now)]))
      .where((w) => w.or([w('next_attempt_time', 'is', null), w('next_attempt_time', '<=', now)]))
      .returningAll()
      .execute();
  }

  /**
   * Claims (recurring, day) with one INSERT ... SELECT: only when days remain, no claim of this
   * recurring list is open and no later-or-equal day exists; the primary key refuses a second
   * claim of the same day. True when this owner won it.
   */
  async claimDay(recurringId: number, day: string, owner: string, now: number, leaseExpires: number) {
    const r = await this.db
      .insertInto('recurring_list_days')
      .columns(['recurring_id', 'day', 'state', 'attempts', 'claim_time', 'lease_owner', 'lease_expires'])
      .expression((eb) =>
        eb
          .selectFrom('recurring_audience_lists as r')
          .select([
            'r.id',
            sql.val(day).as('day'),
            sql.val('CLAIMED').as('state'),
            sql.val(1).as('attempts'),
            sql.val(now).as('claim_time'),
            sql.val(owner).as('lease_owner'),
            sql.val(leaseExpires).as('lease_expires'),
          ])
          .where('r.id', '=', recurringId)
          .where((w) =>
            w(
              w
                .selectFrom('recurring_list_days as d')
                .select((e) => e.fn.countAll().as('n'))
                .whereRef('d.recurring_id', '=', 'r.id'),
              '<',
              w.ref('r.active_days'),
            ),
          )
          .where((w) =>
            w.not(
              w.exists(
                w
                  .selectFrom('recurring_list_days as d')
                  .select('d.day')
                  .whereRef('d.recurring_id', '=', 'r.id')
                  .where((x) => x.or([x('d.day', '>=', day), x('d.state', '=', 'CLAIMED')])),
              ),
            ),
          ),
      )
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  /** Records a claimed day's outcome if `owner` still holds the claim; false when it was lost. */
  async recordDay(
    recurringId: number,
    day: string,
    owner: string,
    values: Pick<Partial<DayRow>, 'state' | 'list_name' | 'done_time' | 'last_error' | 'next_attempt_time'>,
  ): Promise<boolean> {
    const u = await this.db
      .updateTable('recurring_list_days')
      .set({ ...values, lease_owner: null, lease_expires: null })
      .where('recurring_id', '=', recurringId)
      .where('day', '=', day)
      .where('state', '=', 'CLAIMED')
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(u.numUpdatedRows) === 1;
  }

  async markExhausted(id: number): Promise<void> {
    await this.db
      .updateTable('recurring_audience_lists')
      .set({ exhausted: 1 })
      .where('id', '=', id)
      .execute();
  }
}
