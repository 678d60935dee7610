// The DuckDB backend as src/storage/index.ts opens it: one embedded file, <data>/events.duckdb,
// holding the events, the export snapshots and the device-attribute fold.

import type { Storage, StorageOptions } from '../contract.ts';
import type { DuckDbDatabase } from './connection.ts';
import { DeviceAttributeIndex } from './device-attributes.ts';
import { DuckDbEventStore } from './event-store.ts';
import { DuckDbAudienceEngine } from './members.ts';
import { DuckDbSnapshotStore } from './snapshots.ts';

export interface DuckDbStorage extends Storage {
  events: DuckDbEventStore;
  /** See OpenedStorage.triggerDb (src/storage/index.ts). */
  triggerDb: DuckDbDatabase;
}

export async function open(options: StorageOptions): Promise<DuckDbStorage> {
  const events = await DuckDbEventStore.open({
    dataDir: options.dataDir,
    threads: options.threads,
    memoryLimit: options.memoryLimit,
  });
  const audiences = new DuckDbAudienceEngine(events.db);
  return {
    events,
    audiences,
    snapshots: new DuckDbSnapshotStore(events.db, audiences),
    // Keeps exports from aggregating every event for their members' attributes (see the module).
    maintenance: new DeviceAttributeIndex(events.db, { log: options.log }),
    triggerDb: events.db,
    close: () => events.db.close(),
  };
}
