// The DuckDB backend as src/storage/index.ts opens it: one embedded file, <data>/events.duckdb,
// holding the events, the export snapshots and the device-attribute fold.

import type { Storage, StorageOptions } from '../contract.ts';
import { DeviceAttributeIndex } from './device-attributes.ts';
import { DuckDbEventStore } from './event-store.ts';
import { DuckDbAudienceEngine } from './members.ts';
import { DuckDbSnapshotStore } from './snapshots.ts';
import { DuckDbExecutor } from './executor.ts';
import { DuckDbTriggerProgress } from './trigger-progress.ts';
import { DuckDbDataEraser } from './eraser.ts';

export interface DuckDbStorage extends Storage {
  events: DuckDbEventStore;
}

export async function open(options: StorageOptions): Promise<DuckDbStorage> {
  const events = await DuckDbEventStore.open({
    dataDir: options.dataDir,
    threads: options.threads,
    memoryLimit: options.memoryLimit,
    ...(options.collectWorkers === undefined ? {} : { collectWorkers: options.collectWorkers }),
  });
  const audiences = new DuckDbAudienceEngine(events.db);
  // Keeps exports from aggregating every event for their members' attributes, and is the device
  // summary that All Users is read from (see the module).
  const deviceSummary = new DeviceAttributeIndex(events.db, { log: options.log });
  const snapshots = new DuckDbSnapshotStore(events.db, audiences, deviceSummary);
  return {
    events,
    audiences,
    snapshots,
    eraser: new DuckDbDataEraser(events.db, snapshots),
    maintenance: deviceSummary,
    executor: new DuckDbExecutor(events.db),
    triggerProgress: new DuckDbTriggerProgress(events.db),
    memoryUsage: async () => {
      if (events.db.isClosed) return [];
      const rows = await events.db
        .reader()
        .all(
          'SELECT tag, memory_usage_bytes::DOUBLE AS bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0',
        );
      return rows.map((r) => ({ tag: String(r.tag), bytes: Number(r.bytes) }));
    },
    close: () => events.close(),
  };
}
