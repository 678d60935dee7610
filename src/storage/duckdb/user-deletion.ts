// Removing one user's data from DuckDB (SubmitUserDeletion, src/privacy/user-deletion.ts).
//
// - The user's devices: for a client id or app instance id, that user_pseudo_id; for a user id,
//   every user_pseudo_id that ever carried it. Every event of those devices in the property is
//   deleted, and every event with that user_id: a device that signed in as the user is the user's.
// - DELETE marks rows deleted in place (DuckDB keeps a deletion mask per row group and reclaims
//   the space at a later checkpoint/vacuum); the table is never rewritten, so the cost is one scan
//   of the property's events (bench/user-deletion.bench.ts).
// - device_attributes (the folded export attributes) loses the devices' rows, on the maintenance
//   connection that the fold itself uses, so the two never interleave; a fold that ran before the
//   DELETE is undone here, and one after it cannot see the deleted events.
// - A snapshot loses the devices' rows (and rows whose userId is the user's id), and the rows
//   after them are renumbered (rn stays dense, so pages and rowCount stay consistent): an UPDATE
//   of the rn column only, never a rewrite of the snapshot. The caller then drops the
//   snapshot's pre-rendered pages (they re-render at the next query) and fixes its rowCount.

import type { DuckDbDatabase } from './connection.ts';
import { EVENTS_TABLE } from './schema.ts';
import type { DeletionSubject } from '../contract.ts';

const IDS = `(SELECT unnest(from_json($2::JSON, '["VARCHAR"]')))`;

/** Deletes the user's events in the property; returns the user's device ids and events deleted. */
export async function deleteUserEvents(
  db: DuckDbDatabase,
  propertyId: bigint,
  subject: DeletionSubject,
): Promise<{ devices: string[]; events: number }> {
  return db.writer.exclusive(async (con) => {
    await con.run('BEGIN TRANSACTION');
    try {
      let devices: string[];
      if (subject.kind === 'user_id') {
        const r = await con.runAndReadAll(
          `SELECT DISTINCT user_pseudo_id FROM ${EVENTS_TABLE} WHERE property_id = $1 AND user_id = $2 ORDER BY 1`,
          [propertyId, subject.value],
        );
        devices = r.getRows().map((row) => String(row[0]));
      } else devices = [subject.value];
      const del = await con.run(
        `DELETE FROM ${EVENTS_TABLE} WHERE property_id = $1 AND (user_pseudo_id IN ${IDS}${
          subject.kind === 'user_id' ? ' OR user_id = $3' : ''
        })`,
        subject.kind === 'user_id'
          ? [propertyId, JSON.stringify(devices), subject.value]
          : [propertyId, JSON.stringify(devices)],
      );
      await con.run('COMMIT');
      return { devices, events: del.rowsChanged };
    } catch (err) {
      await con.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }, 'DELETE user events');
}

/** Removes the devices' folded export attributes. */
export async function deleteDeviceAttributes(
  db: DuckDbDatabase,
  propertyId: bigint,
  devices: string[],
): Promise<void> {
  if (devices.length === 0) return;
  await db.maintenance.run(`DELETE FROM device_attributes WHERE property_id = $1 AND device_id IN ${IDS}`, [
    propertyId,
    JSON.stringify(devices),
  ]);
}

/**
 * Removes the rows of the devices (and of `userId`, when given) from one snapshot table and
 * renumbers the rows after them; returns the rows removed and the snapshot's row count after.
 * A missing table (dropped, expired) removes nothing.
 */
export async function deleteFromSnapshot(
  db: DuckDbDatabase,
  snapshotTable: string,
  devices: string[],
  userId: string | null,
): Promise<{ removed: number; rows: number } | null> {
  if (!/^export_snapshot_[A-Za-z0-9_]{1,64}$/.test(snapshotTable)) throw new Error('invalid snapshot table');
  return db.writer.exclusive(async (con) => {
    const exists = await con.runAndReadAll(
      `SELECT count(*) FROM information_schema.tables WHERE table_name = $1`,
      [snapshotTable],
    );
    if (Number(exists.getRows()[0]?.[0] ?? 0) === 0) return null;
    await con.run('BEGIN TRANSACTION');
    try {
      const match = `(device_id IN ${IDS.replace('$2', '$1')}${userId !== null ? ' OR user_id = $2' : ''})`;
      const params = userId !== null ? [JSON.stringify(devices), userId] : [JSON.stringify(devices)];
      const gone = await con.runAndReadAll(
        `SELECT rn FROM ${snapshotTable} WHERE ${match} ORDER BY rn`,
        params,
      );
      const rns = gone.getRows().map((r) => BigInt(r[0] as bigint));
      if (rns.length > 0) {
        await con.run(`DELETE FROM ${snapshotTable} WHERE ${match}`, params);
        // Each remaining row moves down by the number of removed rows before it: one shift per
        // removed row, from the last to the first (a user has few rows; each shift touches only
        // the rows after it).
        for (const r of [...rns].reverse())
          await con.run(`UPDATE ${snapshotTable} SET rn = rn - 1 WHERE rn > $1`, [r]);
      }
      const n = await con.runAndReadAll(`SELECT count(*) FROM ${snapshotTable}`);
      await con.run('COMMIT');
      return { removed: rns.length, rows: Number(n.getRows()[0]?.[0] ?? 0) };
    } catch (err) {
      await con.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }, `DELETE FROM ${snapshotTable}`);
}
