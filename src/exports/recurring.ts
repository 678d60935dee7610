// Recurring audience lists (Data API v1alpha; docs/exports.md): the catalog rows and the
// daily scheduler that makes one AudienceList per property day while activeDaysRemaining > 0.
//
// Schedule (decided here):
// - Days are calendar days in the property's time zone, captured when the recurring list is
//   created (a later change of the property's zone does not move an existing schedule).
// - Each list is labelled with `day`, the last COMPLETE property day it covers. The list for day D
//   is due as soon as D has ended, i.e. at local 00:00 of D+1 (the scheduler runs every `tickMs`,
//   so within tickMs of local midnight). DST needs no special case: days are local dates.
// - The first list is made right away at creation (the first tick after create(); the service
//   calls tick() right after create()), labelled with the day before the creation day: it holds
//   everything up to now, and the creation day itself gets its list when it ends. So with
//   activeDaysRemaining = N, the lists are made at creation and then at the next N-1 local
//   midnights.
// - Days the scheduler was down for are not backfilled: after an outage the next tick makes one
//   list for the latest complete day (lists of missed days would all hold the same data).
// - activeDaysRemaining counts down by one per day that was attempted: a list made (DONE) or a day
//   given up after `maxAttempts` failed createList calls (FAILED). A day's count goes when that
//   day ends, as Google's counter "decreases by one each day": the list made on a day (for the day
//   before) leaves the counter as it was until the next midnight, so the create response shows the
//   requested value (spec data-api.md §3.2: default 14, at least 1, coerced to 30) although its
//   first list is already made. It is derived (active_days minus the attempted days, plus one
//   while today's list is made), so there is no counter to lose or double in a crash.
//
// Claims and crash safety:
// - A day is claimed by INSERTing (recurring_id, day) into recurring_list_days, whose primary key
//   makes the INSERT fail for everyone but one instance; the INSERT ... SELECT also checks, in the
//   same statement, that days remain, that no later-or-equal day was claimed and that no claim of
//   this recurring list is still open. Two schedulers over one catalog never make two lists for
//   one day, whatever their clocks say.
// - The claim carries a lease. The list name is recorded with one UPDATE guarded by state CLAIMED
//   and the lease owner. If the process dies between the claim and the record, the lease lapses
//   and a later tick (of any instance) resumes the claim: it calls createList again for the same
//   (recurring list, day) and records it once. createList must therefore be idempotent per
//   (recurring.id, day): if it already made that list (the process died after making it but
//   before it was recorded), it returns the existing name instead of making another.
// - A createList failure is retried after `retryDelayMs`, up to `maxAttempts` attempts; then the
//   day is FAILED (logged) and the next day is claimed when it ends.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DateTime } from 'luxon';
import type { CatalogDb } from '../catalog/db.ts';
import {
  RecurringListRepository,
  type DayRow,
  type RecurringDbRow as DbRow,
} from '../catalog/repos/recurring.ts';
import { errors } from '../domain/errors.ts';
import type { Clock } from '../domain/time.ts';
import { validateWebhook, type Webhook } from './webhooks.ts';
import { RepeatingTask } from '../domain/repeating-task.ts';

export const DEFAULT_ACTIVE_DAYS = 14;
export const MAX_ACTIVE_DAYS = 30;

// ---------------------------------------------------------------------------------------------
// Input

export interface RecurringInput {
  /** Raw `audience`; the service resolves it (field `recurring_audience_list.audience`). */
  audience: unknown;
  /** Raw `dimensions`; the service validates them (field `recurring_audience_list.dimensions`). */
  dimensions: unknown;
  activeDaysRemaining: number;
  webhook?: Webhook;
}

/**
 * `activeDaysRemaining` of a create request: absent or null -> the default (14); 0 or negative ->
 * INVALID_ARGUMENT (the minimum at creation is 1); above the maximum (30) -> the maximum. proto3
 * JSON int32: a number or a decimal string. The field is proto3 `optional`, so an explicit 0 is a
 * value the caller set (the official client sends it), not "unset".
 */
export function parseActiveDaysRemaining(
  value: unknown,
  opts: { defaultDays?: number; maxDays?: number; field?: string } = {},
): number {
  const field = opts.field ?? 'recurring_audience_list.active_days_remaining';
  const def = opts.defaultDays ?? DEFAULT_ACTIVE_DAYS;
  const max = opts.maxDays ?? MAX_ACTIVE_DAYS;
  if (value === undefined || value === null) return def;
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) n = Number(value);
  else throw errors.invalidField(field, `must be an integer (got ${JSON.stringify(value)}).`);
  if (!Number.isInteger(n)) throw errors.invalidField(field, `must be an integer (got ${n}).`);
  if (n < -2147483648 || n > 2147483647) throw errors.invalidField(field, 'is out of the int32 range.');
  if (n < 1) throw errors.invalidField(field, `must be at least 1 (got ${n}).`);
  return Math.min(n, max);
}

/**
 * The input fields of a CreateRecurringAudienceList body (the RecurringAudienceList). Output-only
 * fields (name, audienceDisplayName, audienceLists) are ignored.
 */
export function parseRecurringInput(
  body: unknown,
  opts: { allowHttpWebhooks: boolean; defaultDays?: number; maxDays?: number },
): RecurringInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw errors.invalidField(
      'recurring_audience_list',
      'is required: the request body is the RecurringAudienceList.',
    );
  const o = body as Record<string, unknown>;
  const activeDaysRemaining = parseActiveDaysRemaining(o.activeDaysRemaining ?? o.active_days_remaining, {
    defaultDays: opts.defaultDays,
    maxDays: opts.maxDays,
  });
  const webhook = validateWebhook(o.webhookNotification ?? o.webhook_notification, {
    allowHttp: opts.allowHttpWebhooks,
    field: 'recurring_audience_list.webhook_notification',
  });
  return {
    audience: o.audience,
    dimensions: o.dimensions,
    activeDaysRemaining,
    ...(webhook ? { webhook } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Days

/** The property-local calendar date (YYYY-MM-DD) of an instant. Throws on an unknown zone. */
export function localDay(micros: bigint, timeZone: string): string {
  const dt = DateTime.fromMillis(Number(micros / 1000n), { zone: timeZone });
  if (!dt.isValid) throw new Error(`invalid time zone ${JSON.stringify(timeZone)}`);
  return dt.toISODate();
}

/** The last property day that has ended at `micros`: the local date minus one day. */
export function lastCompleteDay(micros: bigint, timeZone: string): string {
  const today = localDay(micros, timeZone);
  const ms = Date.parse(`${today}T00:00:00Z`) - 86_400_000;
  return new Date(ms).toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------------
// Rows

export interface RecurringRow {
  id: number;
  propertyId: number;
  /** `properties/{p}/recurringAudienceLists/{id}`. */
  name: string;
  audience: string;
  audienceDisplayName: string;
  dimensions: string[];
  /** Days left (derived: days at creation minus the days done or given up). */
  activeDaysRemaining: number;
  webhook?: Webhook;
  timeZone: string;
  /** µs since the epoch. */
  createTime: bigint;
}

export interface NewRecurring {
  propertyId: number;
  audience: string;
  audienceDisplayName: string;
  dimensions: string[];
  /** Already parsed (parseActiveDaysRemaining): 1..max. */
  activeDaysRemaining: number;
  webhook?: Webhook;
  /** The property's IANA time zone. */
  timeZone: string;
}

export type CreateList = (recurring: RecurringRow, day: string) => Promise<string>;

export interface SchedulerLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface RecurringSchedulerOptions {
  /** Interval of the loop started by start() (ms). Default 60,000. */
  tickMs?: number;
  /** Lease of a claimed day while createList runs (ms). Default 5 min. */
  leaseMs?: number;
  /** Delay before a failed createList is retried (ms). Default 60,000. */
  retryDelayMs?: number;
  /** createList attempts per day before the day is FAILED. Default 5. */
  maxAttempts?: number;
  owner?: string;
}

export function recurringName(propertyId: number, id: number): string {
  return `properties/${propertyId}/recurringAudienceLists/${id}`;
}

/** The RecurringAudienceList resource (proto3 JSON). */
export function recurringJson(r: RecurringRow, audienceLists: string[]): Record<string, unknown> {
  return {
    name: r.name,
    audience: r.audience,
    audienceDisplayName: r.audienceDisplayName,
    dimensions: r.dimensions.map((dimensionName) => ({ dimensionName })),
    activeDaysRemaining: r.activeDaysRemaining,
    audienceLists,
    ...(r.webhook ? { webhookNotification: r.webhook } : {}),
  };
}

/** The days left as of `now` (see the header: today's attempted day counts from tomorrow). */
function remainingDays(r: DbRow, now: bigint): number {
  let today = 0;
  try {
    if (r.last_used_day !== null && r.last_used_day >= lastCompleteDay(now, r.time_zone)) today = 1;
  } catch {
    // an unknown zone (logged by the scheduler): count every attempted day
  }
  return Math.max(0, Math.min(r.active_days, r.active_days - Number(r.used) + today));
}

function toRow(r: DbRow, now: bigint): RecurringRow {
  return {
    id: r.id,
    propertyId: r.property_id,
    name: recurringName(r.property_id, r.id),
    audience: r.audience,
    audienceDisplayName: r.audience_display_name,
    dimensions: JSON.parse(r.dimensions) as string[],
    activeDaysRemaining: remainingDays(r, now),
    ...(r.webhook === null ? {} : { webhook: JSON.parse(r.webhook) as Webhook }),
    timeZone: r.time_zone,
    createTime: BigInt(r.create_time),
  };
}

// ---------------------------------------------------------------------------------------------
// Scheduler

export class RecurringScheduler {
  private readonly leaseMs: number;
  private readonly retryDelayMs: number;
  private readonly maxAttempts: number;
  readonly owner: string;
  private readonly loop: RepeatingTask;

  constructor(
    db: CatalogDb,
    private readonly clock: Clock,
    private readonly createList: CreateList,
    private readonly log: SchedulerLogger,
    opts: RecurringSchedulerOptions = {},
  ) {
    this.loop = new RepeatingTask(
      () => this.tick(),
      opts.tickMs ?? 60_000,
      (err) => this.log.error('recurring scheduler tick failed', { error: String(err) }),
    );
    this.leaseMs = opts.leaseMs ?? 5 * 60_000;
    this.retryDelayMs = opts.retryDelayMs ?? 60_000;
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.repo = new RecurringListRepository(db);
  }

  private readonly repo: RecurringListRepository;

  /** Inserts a recurring list (committed when this resolves). Call tick() to make its first list now. */
  async create(n: NewRecurring): Promise<RecurringRow> {
    localDay(this.clock(), n.timeZone); // throws on an unknown zone
    const id = await this.repo.insert({
      property_id: n.propertyId,
      audience: n.audience,
      audience_display_name: n.audienceDisplayName,
      dimensions: JSON.stringify(n.dimensions),
      active_days: n.activeDaysRemaining,
      webhook: n.webhook ? JSON.stringify(n.webhook) : null,
      time_zone: n.timeZone,
      create_time: Number(this.clock()),
    });
    return (await this.get(n.propertyId, id))!;
  }

  async get(propertyId: number, id: number): Promise<RecurringRow | undefined> {
    const r = await this.repo.find(propertyId, id);
    return r ? toRow(r, this.clock()) : undefined;
  }

  /** Recurring lists of a property, newest first, with id < before (keyset paging). */
  async list(propertyId: number, before: number | null, limit: number): Promise<RecurringRow[]> {
    const now = this.clock();
    return (await this.repo.list(propertyId, before, limit)).map((r) => toRow(r, now));
  }

  /** Names of the AudienceLists a recurring list made, newest first. */
  async listNames(recurringId: number): Promise<string[]> {
    return this.repo.listNames(recurringId);
  }

  /**
   * One scheduling pass: resumes claims whose lease lapsed (a process died or createList failed),
   * then claims the newly ended day of every recurring list with days remaining, and makes those
   * lists. Returns the number of lists recorded.
   */
  async tick(): Promise<number> {
    // One pass at a time per instance: a caller (RecurringListService.create makes the first list
    // at once) that arrives while the loop's pass runs waits for it and then sees its lists,
    // instead of finding the day claimed and the list not made yet.
    while (this.ticking) await this.ticking.catch(() => 0);
    this.ticking = this.tickOnce();
    try {
      return await this.ticking;
    } finally {
      this.ticking = null;
    }
  }

  private ticking: Promise<number> | null = null;

  private async tickOnce(): Promise<number> {
    const mine: DayRow[] = [...(await this.resumeClaims())];
    const now = this.clock();
    const due = await this.repo.unexhausted();
    for (const r of due) {
      if (Number(r.used) >= r.active_days) {
        await this.markExhausted(r.id);
        continue;
      }
      if (Number(r.open) > 0) continue;
      let day: string;
      try {
        day = lastCompleteDay(now, r.time_zone);
      } catch (err) {
        this.log.error('recurring audience list: bad time zone', { id: r.id, error: String(err) });
        continue;
      }
      if (r.last_day !== null && r.last_day !== undefined && day <= r.last_day) continue;
      const claimed = await this.claim(r.id, day, now);
      if (claimed) mine.push(claimed);
    }
    let made = 0;
    for (const c of mine) if (await this.make(c)) made++;
    return made;
  }

  /** Runs tick() now and then every tickMs until stop(). */
  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Leases open claims whose lease lapsed and whose retry time has come (one statement). */
  private async resumeClaims(): Promise<DayRow[]> {
    const now = Number(this.clock());
    const rows = await this.repo.resumeLapsed(this.owner, now, this.leaseMs * 1000);
    for (const r of rows)
      this.log.info('recurring audience list: resuming a claimed day', {
        recurring: r.recurring_id,
        day: r.day,
        attempt: r.attempts,
      });
    return rows;
  }

  /**
   * Claims (recurring, day) with one INSERT ... SELECT: only when days remain, no claim of this
   * recurring list is open and no later-or-equal day exists; the primary key refuses a second
   * claim of the same day. Returns the claim when this instance won it.
   */
  private async claim(recurringId: number, day: string, nowUs: bigint): Promise<DayRow | undefined> {
    const now = Number(nowUs);
    const leaseExpires = now + this.leaseMs * 1000;
    if (!(await this.repo.claimDay(recurringId, day, this.owner, now, leaseExpires))) return undefined;
    return {
      recurring_id: recurringId,
      day,
      state: 'CLAIMED',
      list_name: null,
      attempts: 1,
      claim_time: now,
      done_time: null,
      last_error: null,
      next_attempt_time: null,
      lease_owner: this.owner,
      lease_expires: leaseExpires,
    };
  }

  /** Calls createList for a claim this instance holds and records the outcome. True when recorded DONE. */
  private async make(c: DayRow): Promise<boolean> {
    const r = await this.repo.byId(c.recurring_id);
    if (!r) return false;
    const row = toRow(r, this.clock());
    let listName: string;
    try {
      listName = await this.createList(row, c.day);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      const now = Number(this.clock());
      const give = c.attempts >= this.maxAttempts;
      const recorded = await this.repo.recordDay(c.recurring_id, c.day, this.owner, {
        last_error: error,
        ...(give
          ? { state: 'FAILED', done_time: now }
          : { next_attempt_time: now + this.retryDelayMs * 1000 }),
      });
      if (recorded)
        this.log.error(
          give
            ? 'recurring audience list: giving up on a day'
            : 'recurring audience list: making the list failed; will retry',
          { recurring: row.name, day: c.day, attempt: c.attempts, error },
        );
      if (give) await this.markExhaustedIfDone(c.recurring_id);
      return false;
    }
    const done = await this.repo.recordDay(c.recurring_id, c.day, this.owner, {
      state: 'DONE',
      list_name: listName,
      done_time: Number(this.clock()),
      last_error: null,
    });
    if (!done) {
      // The lease lapsed and another instance took the claim over; it records the list (createList
      // is idempotent per (recurring, day), so it gets the same name).
      this.log.error('recurring audience list: lost the claim before recording the list', {
        recurring: row.name,
        day: c.day,
        list: listName,
      });
      return false;
    }
    this.log.info('recurring audience list: made the list of a day', {
      recurring: row.name,
      day: c.day,
      list: listName,
    });
    await this.markExhaustedIfDone(c.recurring_id);
    return true;
  }

  private async markExhaustedIfDone(id: number): Promise<void> {
    const r = await this.repo.byId(id);
    if (r && Number(r.used) >= r.active_days) await this.markExhausted(id);
  }

  private async markExhausted(id: number): Promise<void> {
    await this.repo.markExhausted(id);
  }
}
