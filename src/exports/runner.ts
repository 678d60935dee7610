// The export job runner. It leases CREATING exports from the catalog one at a time, materializes
// the snapshot as of the export's create time (asOf, and the event store's high-water ingest_seq
// taken at the create call), reports percentageCompleted while it works, and finishes the export
// ACTIVE (charging the remaining creation tokens) or FAILED with an errorMessage.
//
// Leases: a claimed job carries lease_owner = this runner and lease_expires = now + lease; the
// lease is renewed every lease/3 while the job runs. Any runner (this process after a restart, or
// another worker sharing the catalog) takes over a job whose lease lapsed. A job leased by a
// process on this host that no longer exists is taken over at once, so a restart after kill -9
// resumes the export without waiting for the lease to run out. A snapshot write is idempotent
// (CREATE OR REPLACE in one transaction), so a resumed job simply starts over.
//
// Expiry: a sweep (at start and every minute) drops the snapshot of every expired export and
// then its catalog row; get/list/query already answer NOT_FOUND once expire_time has passed.
//
// Test hook: AUDEX_TEST_EXPORT_DELAY_MS (config.exports.testDelayMs) makes each job spend that long
// CREATING before it materializes, in 10 steps that move percentageCompleted from 0 to 40. Tests
// use it to observe progress and to kill the server mid-creation.

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { SnapshotStore } from '../storage/contract.ts';
import type { AudienceDefinition, EvaluationConfig } from '../domain/audience.ts';
import { parseAudience } from '../audience/validate.ts';
import type { ExportRepo, ExportRow } from '../catalog/repos/exports.ts';
import { isStorageError } from '../storage/errors.ts';
import { toApiError } from '../domain/errors.ts';

export interface RunnerLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface RunnerOptions {
  leaseSeconds: number;
  testDelayMs?: number;
  /** Idle poll interval for new jobs (ms); create() also wakes the runner. Default 1000. */
  pollMs?: number;
  /** Expiry sweep interval (ms). Default 60,000. */
  sweepMs?: number;
  log: RunnerLogger;
  /** µs clock. */
  now?: () => number;
  /**
   * Called once a job this runner owned reached ACTIVE or FAILED (the v1alpha webhook's second
   * notification hangs off it). Errors are logged, never fail the job.
   */
  onFinished?: (id: number) => Promise<void> | void;
  /**
   * A retriable storage failure (engine unavailable, memory limit, full disk) is tried again
   * this many more times, after baseDelayMs, 2×, 4×… (capped at 30 s), before the job fails.
   * Default 4 retries from 1 s (about 15 s in all).
   */
  retry?: { attempts: number; baseDelayMs: number };
}

export function snapshotIdOf(exportId: number): string {
  return `ae_${exportId}`;
}

/** Stored evaluation config (bigints as strings). */
export interface StoredEvalConfig {
  createTimeMicros: string;
  backfillDays: number | null;
  timeZone: string;
  ignoreEventNamesForAdjacency: string[];
}

export function decodeEvalConfig(json: string): EvaluationConfig {
  const c = JSON.parse(json) as StoredEvalConfig;
  return {
    createTimeMicros: BigInt(c.createTimeMicros),
    backfillDays: c.backfillDays,
    timeZone: c.timeZone,
    ignoreEventNamesForAdjacency: c.ignoreEventNamesForAdjacency,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs fn; a retriable StorageError is retried after a doubling back-off while `give up` is false.
 * A snapshot write is idempotent (CREATE OR REPLACE in one transaction), so a retry starts over.
 */
export async function withRetries<T>(
  retry: { attempts: number; baseDelayMs: number },
  giveUp: () => boolean,
  onRetry: (err: unknown, attempt: number, delayMs: number) => void,
  fn: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isStorageError(err) || !err.isRetriable || attempt > retry.attempts || giveUp()) throw err;
      const delayMs = Math.min(30_000, retry.baseDelayMs * 2 ** (attempt - 1));
      onRetry(err, attempt, delayMs);
      await sleep(delayMs);
      if (giveUp()) throw err;
    }
  }
}

export class ExportRunner {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private current: { id: number; done: Promise<void>; released: boolean } | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly leaseMicros: number;

  constructor(
    private readonly repo: ExportRepo,
    private readonly snapshots: SnapshotStore,
    private readonly opts: RunnerOptions,
  ) {
    this.now = opts.now ?? (() => Date.now() * 1000);
    this.leaseMicros = opts.leaseSeconds * 1_000_000;
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
    void this.sweep(true);
    this.sweepTimer = setInterval(() => void this.sweep(false), this.opts.sweepMs ?? 60_000);
    this.sweepTimer.unref();
  }

  /** Wakes an idle runner (a job was just created). */
  kick(): void {
    this.wake?.();
  }

  /**
   * Stops taking jobs. A running job gets `graceMs` to finish; after that its lease is released
   * so the next start (or another worker) resumes it at once.
   */
  async stop(graceMs = 2000): Promise<void> {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.wake?.();
    const cur = this.current;
    if (cur) {
      const finished = await Promise.race([cur.done.then(() => true), sleep(graceMs).then(() => false)]);
      if (!finished) {
        cur.released = true;
        await this.repo.release(cur.id, this.owner);
        this.opts.log.info('export job released at shutdown', { export: cur.id });
      }
    }
    if (cur?.released) return;
    await this.loop;
  }

  private deadLocalOwners(owners: string[]): string[] {
    const host = hostname();
    return owners.filter((o) => {
      const [h, pid] = o.split(':');
      const n = Number(pid);
      return h === host && o !== this.owner && Number.isInteger(n) && n !== process.pid && !processAlive(n);
    });
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let job: ExportRow | undefined;
      try {
        const dead = this.deadLocalOwners(await this.repo.leaseOwners());
        job = await this.repo.claim(this.owner, this.now(), this.leaseMicros, dead);
      } catch (err) {
        this.opts.log.error('export queue poll failed', { err: String(err) });
      }
      if (!job) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.opts.pollMs ?? 1000);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = null;
        continue;
      }
      const state = { id: job.id, done: Promise.resolve(), released: false };
      state.done = this.execute(job, state);
      this.current = state;
      await state.done;
      this.current = null;
    }
  }

  private async execute(job: ExportRow, state: { released: boolean }): Promise<void> {
    const { log } = this.opts;
    const id = job.id;
    let pct = job.percentage_completed;
    let lost = false;
    const renew = async () => {
      if (state.released || lost) return;
      try {
        if (!(await this.repo.renew(id, this.owner, this.now(), this.leaseMicros, pct))) lost = true;
      } catch (err) {
        log.error('export lease renewal failed', { export: id, err: String(err) });
      }
    };
    const timer = setInterval(() => void renew(), Math.max(200, this.leaseMicros / 1000 / 3));
    log.info('export job started', { export: id, attempt: job.attempts, resumed: job.attempts > 1 });
    const started = Date.now();
    try {
      const delay = this.opts.testDelayMs ?? 0;
      for (let step = 1; delay > 0 && step <= 10; step++) {
        await sleep(delay / 10);
        if (state.released || lost) return;
        if (this.stopping) {
          // Not started on the data yet: hand the job back so the next start takes it at once.
          await this.repo.release(id, this.owner);
          return;
        }
        pct = Math.max(pct, step * 4);
        await renew();
      }
      let definition: AudienceDefinition;
      let config: EvaluationConfig;
      try {
        definition = parseAudience(JSON.parse(job.definition));
        config = decodeEvalConfig(job.eval_config);
      } catch (err) {
        const failed = await this.repo.fail(
          id,
          this.owner,
          `The audience definition could not be read: ${String(err)}`,
          this.now(),
        );
        if (failed) await this.finished(id);
        return;
      }
      const phase = { start: Date.now(), members: 0 };
      const retry = this.opts.retry ?? { attempts: 4, baseDelayMs: 1000 };
      const rows = await withRetries(
        retry,
        () => this.stopping || state.released || lost,
        (err, attempt, delayMs) =>
          log.error('export job storage failure; retrying', {
            export: id,
            attempt,
            delayMs,
            err: String(err),
          }),
        () =>
          this.snapshots.materialize(
            snapshotIdOf(id),
            {
              propertyId: BigInt(job.property_id),
              audience: definition,
              config,
              asOfMicros: BigInt(job.as_of),
              maxIngestSeq: BigInt(job.max_ingest_seq),
            },
            (p) => {
              if (p >= 50 && phase.members === 0) phase.members = Date.now();
              pct = Math.max(pct, Math.min(99, 40 + p * 0.6));
              void renew();
            },
          ),
      );
      if (state.released || lost) return;
      const finishStart = Date.now();
      const final = await this.repo.finish(id, this.owner, rows, this.now());
      const catalogFinishMs = Date.now() - finishStart;
      if (final === 'FAILED') await this.snapshots.drop(snapshotIdOf(id));
      if (final !== null) await this.finished(id);
      log.info('export job finished', {
        export: id,
        state: final,
        rows,
        ms: Date.now() - started,
        membersMs: phase.members - phase.start,
        snapshotMs: Date.now() - (phase.members || phase.start),
        // Where the job's time went (bench/export-phases.bench.ts reads these).
        catalogFinishMs,
        phases: (
          this.snapshots as SnapshotStore & {
            phaseTimings?: (sid: string) => Record<string, number> | undefined;
          }
        ).phaseTimings?.(snapshotIdOf(id)),
      });
    } catch (err) {
      if (this.stopping || state.released) {
        // Shutting down (storage closing under us): leave the job to the next start.
        await this.repo.release(id, this.owner).catch(() => undefined);
        return;
      }
      log.error('export job failed', { export: id, err: String(err) });
      // Storage failures in words a client can act on (never the engine's text, which names files).
      const reason = isStorageError(err)
        ? toApiError(err).status === 'INTERNAL'
          ? 'internal storage error.'
          : toApiError(err).message
        : err instanceof Error
          ? err.message
          : String(err);
      const failed = await this.repo
        .fail(id, this.owner, `Audience export creation failed: ${reason}`, this.now())
        .catch(() => false);
      await this.snapshots.drop(snapshotIdOf(id)).catch(() => undefined);
      if (failed) await this.finished(id);
    } finally {
      clearInterval(timer);
    }
  }

  private async finished(id: number): Promise<void> {
    try {
      await this.opts.onFinished?.(id);
    } catch (err) {
      this.opts.log.error('export completion hook failed', { export: id, err: String(err) });
    }
  }

  /** Drops expired exports (snapshot first, then the catalog row) and, at start, orphan snapshots. */
  async sweep(orphans: boolean): Promise<void> {
    try {
      for (;;) {
        const ids = await this.repo.expired(this.now());
        for (const id of ids) {
          await this.snapshots.drop(snapshotIdOf(id));
          await this.repo.delete(id);
        }
        if (ids.length < 100) break;
      }
      const lister = this.snapshots as SnapshotStore & { list?: () => Promise<string[]> };
      if (orphans && lister.list) {
        const ids = await lister.list();
        for (const sid of ids) {
          const m = /^ae_(\d+)$/.exec(sid);
          if (m && !(await this.repo.exists(Number(m[1])))) await this.snapshots.drop(sid);
        }
      }
    } catch (err) {
      if (!this.stopping) this.opts.log.error('export expiry sweep failed', { err: String(err) });
    }
  }
}
