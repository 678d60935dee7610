// Catalog access for audience exports: the export row doubles as the job, leased by a runner
// (lease_owner + lease_expires), so several runners can share the queue. Per-property quotas
// (concurrent creations, creation tokens per UTC day) are checked and charged in the same
// transaction as the insert.
//
// Rows have a `kind` (migration 005): 'export' is a v1beta AudienceExport, 'list' a v1alpha
// AudienceList. Both kinds share the job queue, the snapshots, the expiry and the per-property
// quotas; reads by name (get, list) are per kind, so an export id is never an audience list.

import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { catalogKind, type CatalogDb } from '../db.ts';
import type { AudienceExportsTable } from '../schema.ts';
import { errors } from '../../domain/errors.ts';

export type ExportKind = 'export' | 'list';

export type ExportRow = Omit<
  AudienceExportsTable,
  'id' | 'percentage_completed' | 'quota_tokens_charged' | 'attempts' | 'kind' | 'webhook_stage'
> & {
  id: number;
  percentage_completed: number;
  quota_tokens_charged: number;
  attempts: number;
  kind: ExportKind;
  webhook_stage: number;
};

/** The operation id prefix of each kind (`operations/audienceExport-…`, `operations/audienceList-…`). */
export const OPERATION_PREFIX: Record<ExportKind, string> = {
  export: 'audienceExport',
  list: 'audienceList',
};

export interface ExportLimits {
  maxConcurrentPerProperty: number;
  dailyTokensPerProperty: number;
}

/** Creation tokens an export of `rows` rows costs: 1 + one per full 10,000 rows (docs/exports.md). */
export function tokensFor(rows: number): number {
  return 1 + Math.floor(rows / 10_000);
}

/** The part charged at create time; the rest is charged when the rows are known. */
export const CREATE_TOKENS = 1;

export function utcDay(micros: number): string {
  return new Date(Math.floor(micros / 1000)).toISOString().slice(0, 10);
}

export type NewExport = Omit<
  ExportRow,
  | 'id'
  | 'operation_id'
  | 'state'
  | 'percentage_completed'
  | 'quota_tokens_charged'
  | 'row_count'
  | 'error_message'
  | 'finish_time'
  | 'attempts'
  | 'lease_owner'
  | 'lease_expires'
  | 'kind'
  | 'recurring_id'
  | 'recurring_day'
  | 'webhook'
  | 'webhook_stage'
> & {
  /** Default 'export'. */
  kind?: ExportKind;
  recurring_id?: number | null;
  recurring_day?: string | null;
  /** WebhookNotification JSON. */
  webhook?: string | null;
};

export class ExportRepo {
  /** Whether the catalog takes row locks (`FOR UPDATE SKIP LOCKED`): PostgreSQL. */
  private readonly rowLocks: boolean;

  /**
   * `limits` are the creation and completion quotas; a repository used only to read rows or for
   * housekeeping (metrics, privacy) may leave them out, and then cannot insert or finish.
   */
  constructor(
    private readonly db: CatalogDb,
    private readonly quota?: ExportLimits,
  ) {
    this.rowLocks = catalogKind(db) === 'postgres';
  }

  private get limits(): ExportLimits {
    if (!this.quota) throw new Error('ExportRepo: inserting or finishing needs the export limits');
    return this.quota;
  }

  /** Inserts a CREATING export after the quota checks; RESOURCE_EXHAUSTED when over a limit. */
  async insert(e: NewExport): Promise<ExportRow> {
    return this.db.transaction().execute(async (tx) => {
      const creating = await tx
        .selectFrom('audience_exports')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('property_id', '=', e.property_id)
        .where('state', '=', 'CREATING')
        .where('expire_time', '>', e.begin_creating_time)
        .executeTakeFirstOrThrow();
      const what = e.kind === 'list' ? 'audience list' : 'audience export';
      if (Number(creating.n) >= this.limits.maxConcurrentPerProperty) {
        throw errors.resourceExhausted(
          `Too many concurrent ${what} creations for properties/${e.property_id} (limit ${this.limits.maxConcurrentPerProperty}); retry when one finishes.`,
          'audex.exports.concurrent_creations',
        );
      }
      const day = utcDay(e.begin_creating_time);
      const used = await tx
        .selectFrom('export_token_usage')
        .select('tokens')
        .where('property_id', '=', e.property_id)
        .where('day', '=', day)
        .executeTakeFirst();
      if ((used?.tokens ?? 0) + CREATE_TOKENS > this.limits.dailyTokensPerProperty) {
        throw errors.resourceExhausted(
          `Exhausted property tokens per day for ${what} creation on properties/${e.property_id} (limit ${this.limits.dailyTokensPerProperty}, resets at 00:00 UTC).`,
          'audex.exports.daily_tokens',
        );
      }
      await chargeTokens(tx, e.property_id, day, CREATE_TOKENS);
      return await tx
        .insertInto('audience_exports')
        .values({
          ...e,
          operation_id: `${OPERATION_PREFIX[e.kind ?? 'export']}-${randomBytes(9).toString('base64url')}`,
          state: 'CREATING',
          percentage_completed: 0,
          quota_tokens_charged: CREATE_TOKENS,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    });
  }

  /** A live (not expired) export (or list, by kind) of the property, or undefined. */
  async get(
    propertyId: number,
    id: number,
    now: number,
    kind: ExportKind = 'export',
  ): Promise<ExportRow | undefined> {
    return await this.db
      .selectFrom('audience_exports')
      .selectAll()
      .where('property_id', '=', propertyId)
      .where('id', '=', id)
      .where('kind', '=', kind)
      .where('expire_time', '>', now)
      .executeTakeFirst();
  }

  /** A row by id whatever its kind or expiry (the runner's completion path). */
  async byId(id: number): Promise<ExportRow | undefined> {
    return await this.db.selectFrom('audience_exports').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The list a recurring audience list made for a day, if any (expired or not). */
  async byRecurringDay(recurringId: number, day: string): Promise<ExportRow | undefined> {
    return await this.db
      .selectFrom('audience_exports')
      .selectAll()
      .where('recurring_id', '=', recurringId)
      .where('recurring_day', '=', day)
      .executeTakeFirst();
  }

  /** Records which webhook notifications of a row were enqueued (only ever moves forward). */
  async setWebhookStage(id: number, stage: number): Promise<void> {
    await this.db
      .updateTable('audience_exports')
      .set({ webhook_stage: stage })
      .where('id', '=', id)
      .where('webhook_stage', '<', stage)
      .execute();
  }

  /**
   * Rows with a webhook whose notifications were not all enqueued: CREATING ones without their
   * first notification, finished ones without their last (a crash between a state change and the
   * enqueue).
   */
  async webhooksBehind(limit = 100): Promise<ExportRow[]> {
    return await this.db
      .selectFrom('audience_exports')
      .selectAll()
      .where('webhook', 'is not', null)
      .where((w) =>
        w.or([
          w.and([w('state', '=', 'CREATING'), w('webhook_stage', '=', 0)]),
          w.and([w('state', '!=', 'CREATING'), w('webhook_stage', '<', 2)]),
        ]),
      )
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  async byOperation(operationId: string, now: number): Promise<ExportRow | undefined> {
    return await this.db
      .selectFrom('audience_exports')
      .selectAll()
      .where('operation_id', '=', operationId)
      .where('expire_time', '>', now)
      .executeTakeFirst();
  }

  /** Live exports (or lists, by kind) of a property, newest first, with id < before (keyset paging). */
  async list(
    propertyId: number,
    now: number,
    before: number | null,
    limit: number,
    kind: ExportKind = 'export',
  ): Promise<ExportRow[]> {
    let q = this.db
      .selectFrom('audience_exports')
      .selectAll()
      .where('property_id', '=', propertyId)
      .where('kind', '=', kind)
      .where('expire_time', '>', now);
    if (before !== null) q = q.where('id', '<', before);
    return await q.orderBy('id', 'desc').limit(limit).execute();
  }

  /**
   * Leases the oldest CREATING export whose lease is free or lapsed (or whose owner is listed in
   * `deadOwners`). Returns undefined when the queue is empty.
   */
  async claim(
    owner: string,
    now: number,
    leaseMicros: number,
    deadOwners: string[] = [],
  ): Promise<ExportRow | undefined> {
    return this.db.transaction().execute(async (tx) => {
      let q = tx
        .selectFrom('audience_exports')
        .select('id')
        .where('state', '=', 'CREATING')
        .where('expire_time', '>', now);
      q = q.where((eb) =>
        eb.or([
          eb('lease_owner', 'is', null),
          eb('lease_expires', '<', now),
          ...(deadOwners.length > 0 ? [eb('lease_owner', 'in', deadOwners)] : []),
        ]),
      );
      // A row with a webhook is a job only once its CREATING notification is enqueued, so the
      // ACTIVE/FAILED notification can never be enqueued before it.
      q = q.where((eb) => eb.or([eb('webhook', 'is', null), eb('webhook_stage', '>=', 1)]));
      // PostgreSQL: a row lease. The row is locked until this transaction ends and other claimers
      // skip it (they take the next job instead of waiting), so concurrent workers never take
      // one job twice. SQLite has one writer at a time: the transaction alone is enough there.
      if (this.rowLocks) q = q.forUpdate().skipLocked();
      const next = await q.orderBy('id').limit(1).executeTakeFirst();
      if (!next) return undefined;
      return await tx
        .updateTable('audience_exports')
        .set({
          lease_owner: owner,
          lease_expires: now + leaseMicros,
          attempts: sql<number>`attempts + 1`,
        })
        .where('id', '=', next.id)
        .returningAll()
        .executeTakeFirst();
    });
  }

  /** Owners of CREATING leases (to detect dead local processes). */
  async leaseOwners(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('audience_exports')
      .select('lease_owner')
      .distinct()
      .where('state', '=', 'CREATING')
      .where('lease_owner', 'is not', null)
      .execute();
    return rows.map((r) => r.lease_owner!);
  }

  /** Renews the lease (and records progress); false when the lease was lost. */
  async renew(id: number, owner: string, now: number, leaseMicros: number, pct?: number): Promise<boolean> {
    const r = await this.db
      .updateTable('audience_exports')
      .set({
        lease_expires: now + leaseMicros,
        ...(pct === undefined ? {} : { percentage_completed: pct }),
      })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('state', '=', 'CREATING')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async release(id: number, owner: string): Promise<void> {
    await this.db
      .updateTable('audience_exports')
      .set({ lease_owner: null, lease_expires: null })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .execute();
  }

  /**
   * Finishes a job ACTIVE, charging the tokens beyond the create-time part. When the day's
   * budget cannot pay them, the export goes FAILED (quota exhausted during creation) instead.
   * Returns the final state, or null when the lease was lost (another runner owns the job).
   */
  async finish(id: number, owner: string, rows: number, now: number): Promise<'ACTIVE' | 'FAILED' | null> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom('audience_exports')
        .selectAll()
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .where('state', '=', 'CREATING')
        .executeTakeFirst();
      if (!row) return null;
      const extra = tokensFor(rows) - row.quota_tokens_charged;
      const day = utcDay(row.begin_creating_time);
      const used = await tx
        .selectFrom('export_token_usage')
        .select('tokens')
        .where('property_id', '=', row.property_id)
        .where('day', '=', day)
        .executeTakeFirst();
      const base = { lease_owner: null, lease_expires: null, finish_time: now };
      if (extra > 0 && (used?.tokens ?? 0) + extra > this.limits.dailyTokensPerProperty) {
        await tx
          .updateTable('audience_exports')
          .set({
            ...base,
            state: 'FAILED',
            error_message: `Exhausted property tokens per day for audience export creation: the export has ${rows} rows and costs ${tokensFor(rows)} tokens, more than remain today for properties/${row.property_id}. Retry tomorrow or with a smaller audience.`,
          })
          .where('id', '=', id)
          .execute();
        return 'FAILED';
      }
      if (extra > 0) await chargeTokens(tx, row.property_id, day, extra);
      await tx
        .updateTable('audience_exports')
        .set({
          ...base,
          state: 'ACTIVE',
          row_count: rows,
          percentage_completed: 100,
          quota_tokens_charged: row.quota_tokens_charged + Math.max(0, extra),
        })
        .where('id', '=', id)
        .execute();
      return 'ACTIVE';
    });
  }

  async fail(id: number, owner: string, message: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('audience_exports')
      .set({
        state: 'FAILED',
        error_message: message,
        lease_owner: null,
        lease_expires: null,
        finish_time: now,
      })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('state', '=', 'CREATING')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Expired exports (ids), oldest first. */
  async expired(now: number, limit = 100): Promise<number[]> {
    const rows = await this.db
      .selectFrom('audience_exports')
      .select('id')
      .where('expire_time', '<=', now)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('audience_exports').where('id', '=', id).execute();
  }

  /** Every export and list of a property with its state, expired or not. */
  async ofProperty(propertyId: number): Promise<{ id: number; state: string; expire_time: number }[]> {
    return this.db
      .selectFrom('audience_exports')
      .select(['id', 'state', 'expire_time'])
      .where('property_id', '=', propertyId)
      .orderBy('id')
      .execute();
  }

  /** ACTIVE exports and lists with their row counts (the snapshots `audex migrate` copies). */
  async activeRowCounts(): Promise<{ id: number; rows: number }[]> {
    const rows = await this.db
      .selectFrom('audience_exports')
      .select(['id', 'row_count'])
      .where('state', '=', 'ACTIVE')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ id: r.id, rows: Number(r.row_count ?? 0) }));
  }

  /** Sets a row's count after rows were removed from its snapshot (user deletion). */
  async setRowCount(id: number, rows: number): Promise<void> {
    await this.db.updateTable('audience_exports').set({ row_count: rows }).where('id', '=', id).execute();
  }

  /** How many rows not yet expired at `now` there are of each kind and state. */
  async countByKindAndState(now: number): Promise<{ kind: ExportKind; state: string; n: number }[]> {
    const rows = await this.db
      .selectFrom('audience_exports')
      .select(['kind', 'state', (eb) => eb.fn.countAll<number>().as('n')])
      .where('expire_time', '>', now)
      .groupBy(['kind', 'state'])
      .execute();
    return rows.map((r) => ({ kind: r.kind, state: r.state, n: Number(r.n) }));
  }

  async exists(id: number): Promise<boolean> {
    const r = await this.db
      .selectFrom('audience_exports')
      .select('id')
      .where('id', '=', id)
      .executeTakeFirst();
    return r !== undefined;
  }
}

async function chargeTokens(
  tx: Parameters<Parameters<ReturnType<CatalogDb['transaction']>['execute']>[0]>[0],
  propertyId: number,
  day: string,
  tokens: number,
): Promise<void> {
  await tx
    .insertInto('export_token_usage')
    .values({ property_id: propertyId, day, tokens })
    .onConflict((oc) =>
      // Qualified: PostgreSQL finds a bare `tokens` ambiguous (the row or `excluded`).
      oc
        .columns(['property_id', 'day'])
        .doUpdateSet({ tokens: sql`export_token_usage.tokens + excluded.tokens` }),
    )
    .execute();
}
