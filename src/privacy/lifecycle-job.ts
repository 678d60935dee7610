// The data-lifecycle job: every `intervalMs` (and once at start) it
// 1. enforces each property's data retention settings (src/privacy/retention.ts): deletes the
//    events older than the settings say, as of the injected clock;
// 2. purges the trashed properties whose 35 days are over (src/privacy/trash.ts): their export
//    snapshots and pre-rendered pages, their events and folded attributes, then their catalog rows.
// A pass that fails is reported and the next one tries again; each step is idempotent.

import type { CatalogDb } from '../catalog/db.ts';
import { RepeatingTask } from '../domain/repeating-task.ts';
import type { DataEraser, SnapshotStore } from '../storage/contract.ts';
import { snapshotIdOf } from '../exports/runner.ts';
import { allRetentionSettings, monthsBefore } from './retention.ts';
import { expiredTrash, exportIdsOf, purgePropertyCatalog } from './trash.ts';

export interface LifecycleOptions {
  catalog: CatalogDb;
  eraser: DataEraser;
  snapshots: SnapshotStore;
  intervalMs: number;
  log: {
    info(msg: string, f?: Record<string, unknown>): void;
    error(msg: string, f?: Record<string, unknown>): void;
  };
  /** Called after a property is purged (key bindings went with it). */
  onPurged?: (propertyId: number) => void;
  /** The clock, µs since epoch (tests inject one). */
  now: () => number;
}

export interface LifecyclePass {
  expiredEvents: number;
  purgedProperties: number[];
}

export class DataLifecycleJob {
  private readonly loop: RepeatingTask;
  readonly stats = { passes: 0, expiredEvents: 0, purgedProperties: 0, failures: 0 };

  constructor(private readonly opts: LifecycleOptions) {
    this.loop = new RepeatingTask(
      () => this.runPass(),
      opts.intervalMs,
      (err) => {
        this.stats.failures++;
        opts.log.error('data lifecycle pass failed', { error: String(err) });
      },
    );
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass: retention, then trash expiry. */
  async runPass(): Promise<LifecyclePass> {
    const { catalog, eraser, log } = this.opts;
    const now = this.opts.now();
    let expiredEvents = 0;
    for (const s of await allRetentionSettings(catalog)) {
      if (s.eventMonths === null) continue;
      const userCut = s.userMonths === null ? null : BigInt(monthsBefore(now, s.userMonths));
      let eventsBefore = BigInt(monthsBefore(now, s.eventMonths));
      if (userCut !== null && !s.resetOnNewActivity && userCut > eventsBefore) eventsBefore = userCut;
      const n = await eraser.deleteExpiredEvents(BigInt(s.propertyId), {
        eventsBefore,
        inactiveBefore: userCut !== null && s.resetOnNewActivity ? userCut : null,
      });
      if (n > 0) log.info('expired events deleted (data retention)', { property: s.propertyId, events: n });
      expiredEvents += n;
    }
    const purged: number[] = [];
    for (const propertyId of await expiredTrash(catalog, now)) {
      for (const id of await exportIdsOf(catalog, propertyId))
        await this.opts.snapshots.drop(snapshotIdOf(id));
      const events = await eraser.deletePropertyEvents(BigInt(propertyId));
      await purgePropertyCatalog(catalog, propertyId);
      this.opts.onPurged?.(propertyId);
      log.info('trashed property purged', { property: propertyId, events });
      purged.push(propertyId);
    }
    this.stats.passes++;
    this.stats.expiredEvents += expiredEvents;
    this.stats.purgedProperties += purged.length;
    return { expiredEvents, purgedProperties: purged };
  }
}
