// DataEraser on DuckDB: the deletes of user deletion, data retention and the trash purge
// (src/privacy/). The SQL lives in user-deletion.ts and retention.ts beside this file.

import type { DataEraser, DeletionSubject, RetentionCut } from '../contract.ts';
import type { DuckDbDatabase } from './connection.ts';
import type { DuckDbSnapshotStore } from './snapshots.ts';
import { deleteDeviceAttributes, deleteFromSnapshot, deleteUserEvents } from './user-deletion.ts';
import { deleteExpiredEvents, deletePropertyEvents } from './retention.ts';

export class DuckDbDataEraser implements DataEraser {
  constructor(
    private readonly db: DuckDbDatabase,
    private readonly snapshots: DuckDbSnapshotStore,
  ) {}

  deleteUserEvents(propertyId: bigint, subject: DeletionSubject) {
    return deleteUserEvents(this.db, propertyId, subject);
  }

  deleteDeviceAttributes(propertyId: bigint, devices: string[]) {
    return deleteDeviceAttributes(this.db, propertyId, devices);
  }

  async deleteFromSnapshot(snapshotId: string, devices: string[], userId: string | null) {
    const out = await deleteFromSnapshot(this.db, `export_snapshot_${snapshotId}`, devices, userId);
    // Pre-rendered pages hold the removed rows: drop them (the next query renders them again).
    if (out && out.removed > 0) await this.snapshots.renderedRows().drop(snapshotId);
    return out;
  }

  deleteExpiredEvents(propertyId: bigint, cut: RetentionCut) {
    return deleteExpiredEvents(this.db, propertyId, cut);
  }

  deletePropertyEvents(propertyId: bigint) {
    return deletePropertyEvents(this.db, propertyId);
  }
}
