// SubmitUserDeletion (Admin API v1alpha): deletes every stored event of one user of a property,
// and every copy made of them: the folded export attributes, the rows of live export and list
// snapshots (and their pre-rendered pages, which downloads read), and the trigger events the
// trigger logger may be about to store. docs/privacy.md says what it covers and how long it takes.
//
// Durability: the request is journaled in the catalog (committed, WAL + synchronous=FULL) before
// it is answered, and one worker completes journaled requests in order; at start it resumes every
// PENDING one, so a crash between the answer and the end of the work is finished at the next
// start. Each step is idempotent (deleting what is already gone removes nothing), so redoing a
// half-done request is safe. Logs name the request by its journal id and a short hash of the id,
// never the id itself.

import { errors } from '../domain/errors.ts';
import { parseProperty } from '../domain/names.ts';
import { microsToRfc3339, nowMicros } from '../domain/time.ts';
import { requireRole, type Principal } from '../auth/principal.ts';
import type { CatalogDb } from '../catalog/db.ts';
import { requireProperty } from '../api/service/properties.ts';
import type { DataEraser } from '../storage/contract.ts';
import { snapshotIdOf } from '../exports/runner.ts';
import {
  exportsOfProperty,
  journalDeletion,
  markDeletionDone,
  markDeletionFailed,
  pendingDeletions,
  setExportRowCount,
  subjectHash,
  type DeletionKind,
  type PendingDeletion,
} from './deletion-journal.ts';

const MAX_ID_LENGTH = 1024;
/** How long a deletion waits for exports that were being created when the events went. */
const CREATING_WAIT_MS = 10 * 60_000;

export interface DeletionLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface UserDeletionOptions {
  catalog: CatalogDb;
  eraser: DataEraser;
  /** Resolves once the trigger logger's pass in flight has ended (AudienceTriggerLogger.settled). */
  triggersSettled: () => Promise<void>;
  log: DeletionLog;
  /** Test hook: each deletion waits this long after it is journaled, before any work (0 = off). */
  testDelayMs?: number;
  now?: () => number;
}

const FIELDS: [string, string, DeletionKind][] = [
  ['userId', 'user_id', 'user_id'],
  ['clientId', 'client_id', 'client_id'],
  ['appInstanceId', 'app_instance_id', 'app_instance_id'],
];

export class UserDeletionService {
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** For /audex/v1/metrics. */
  readonly stats = { acknowledged: 0, completed: 0, failures: 0, pending: 0 };

  constructor(private readonly opts: UserDeletionOptions) {
    this.now = opts.now ?? (() => Number(nowMicros()));
  }

  /** The RPC: journals the request, answers with deletionRequestTime, deletes in the background. */
  async submit(p: Principal, request: Record<string, unknown>) {
    const propertyId = parseProperty(request.name, 'name');
    requireRole(p, propertyId, 'editor');
    await requireProperty(this.opts.catalog, propertyId);
    if (typeof request.userProvidedData === 'string' && request.userProvidedData !== '')
      throw errors.invalidField(
        'user_provided_data',
        'audex stores no user-provided data (email addresses, phone numbers), so there is none to delete; submit the deletion by user_id, client_id or app_instance_id.',
      );
    const given = FIELDS.filter(([json]) => request[json] !== undefined && request[json] !== '');
    if (given.length === 0)
      throw errors.invalidField('user', 'one of user_id, client_id or app_instance_id is required.');
    if (given.length > 1)
      throw errors.invalidField('user', 'only one of user_id, client_id or app_instance_id may be set.');
    const [json, field, kind] = given[0]!;
    const subject = request[json];
    if (typeof subject !== 'string') throw errors.invalidField(field, 'must be a string.');
    if (subject.length > MAX_ID_LENGTH)
      throw errors.invalidField(field, `must be at most ${MAX_ID_LENGTH} characters.`);
    const requestTime = this.now();
    const { id, hash } = await journalDeletion(this.opts.catalog, { propertyId, kind, subject, requestTime });
    this.stats.acknowledged++;
    this.opts.log.info('user deletion acknowledged', {
      property: propertyId,
      deletion: id,
      kind,
      subject: hash,
    });
    void this.kick();
    return { deletionRequestTime: microsToRfc3339(requestTime) };
  }

  /** Completes every journaled request (those a crash left too). */
  start(): void {
    this.stopped = false;
    void this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.running;
  }

  /** Runs the worker now (or once more after the run in flight). Resolves when it is idle. */
  kick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = async () => {
      do {
        this.again = false;
        await this.drain();
      } while (this.again && !this.stopped);
    };
    this.running = run().finally(() => (this.running = null));
    return this.running;
  }

  /** Resolves once every journaled request is done (tests, tools). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    const pending = await pendingDeletions(this.opts.catalog);
    this.stats.pending = pending.length;
    for (const d of pending) {
      if (this.stopped) return;
      try {
        await this.complete(d);
        this.stats.completed++;
      } catch (err) {
        this.stats.failures++;
        await markDeletionFailed(this.opts.catalog, d.id, String(err)).catch(() => undefined);
        this.opts.log.error('user deletion failed; retrying', { deletion: d.id, error: String(err) });
        // Try again later (a conflict with a concurrent write, a full disk…).
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => void this.kick(), Math.min(60_000, 1000 * 2 ** d.attempts));
        this.retryTimer.unref();
      }
      this.stats.pending = Math.max(0, this.stats.pending - 1);
    }
  }

  private async complete(d: PendingDeletion): Promise<void> {
    const t0 = performance.now();
    if (this.opts.testDelayMs) await new Promise((r) => setTimeout(r, this.opts.testDelayMs));
    const { eraser, catalog } = this.opts;
    const property = BigInt(d.propertyId);
    const subject = { kind: d.kind, value: d.subject };
    const first = await eraser.deleteUserEvents(property, subject);
    // A trigger pass that read the user's history before the DELETE may store trigger events for
    // the user after it: wait for it, then delete once more.
    await this.opts.triggersSettled();
    const second = await eraser.deleteUserEvents(property, subject);
    const devices = [...new Set([...first.devices, ...second.devices])];
    await eraser.deleteDeviceAttributes(property, devices);
    const snapshotRows = await this.cleanSnapshots(d, devices);
    await markDeletionDone(catalog, d.id, this.now(), first.events + second.events);
    this.opts.log.info('user deletion completed', {
      property: d.propertyId,
      deletion: d.id,
      subject: subjectHash(d.propertyId, d.kind, d.subject),
      events: first.events + second.events,
      snapshotRows,
      ms: Math.round(performance.now() - t0),
    });
  }

  /**
   * Removes the user's rows from every live snapshot of the property. Exports still CREATING may
   * have read the events before they were deleted: wait until they are ACTIVE (or FAILED), then
   * clean them too. Expired snapshots are dropped by the export runner anyway.
   */
  private async cleanSnapshots(d: PendingDeletion, devices: string[]): Promise<number> {
    const { catalog, eraser } = this.opts;
    const started = Date.now();
    let rows = await exportsOfProperty(catalog, d.propertyId);
    while (
      rows.some((r) => r.state === 'CREATING') &&
      Date.now() - started < CREATING_WAIT_MS &&
      !this.stopped
    ) {
      await new Promise((r) => setTimeout(r, 200));
      rows = await exportsOfProperty(catalog, d.propertyId);
    }
    if (rows.some((r) => r.state === 'CREATING'))
      throw new Error('exports of the property are still being created; the deletion waits for them');
    const userId = d.kind === 'user_id' ? d.subject : null;
    let removed = 0;
    for (const r of rows) {
      if (r.state !== 'ACTIVE') continue;
      const id = snapshotIdOf(r.id);
      const out = await eraser.deleteFromSnapshot(id, devices, userId);
      if (!out || out.removed === 0) continue;
      removed += out.removed;
      await setExportRowCount(catalog, r.id, out.rows);
    }
    return removed;
  }
}
