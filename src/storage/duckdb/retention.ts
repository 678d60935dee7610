// Deleting expired events (data retention) and a purged property's events from DuckDB.
//
// Both run on the maintenance connection, the one the device-attribute fold uses, so the folded
// state is fixed in the same transaction as the DELETE and no fold interleaves. DELETE marks rows
// deleted in place; the table is not rewritten (DuckDB reuses the space after a checkpoint).

import type { DuckDbDatabase } from './connection.ts';
import { EVENTS_TABLE } from './schema.ts';
import { refoldDevices } from './device-attributes.ts';
import type { RetentionCut } from '../contract.ts';

/** Deletes a property's expired events; returns how many went. */
export async function deleteExpiredEvents(
  db: DuckDbDatabase,
  propertyId: bigint,
  cut: RetentionCut,
): Promise<number> {
  if (cut.eventsBefore === null && cut.inactiveBefore === null) return 0;
  return db.maintenance.exclusive(async (con) => {
    await con.run('BEGIN TRANSACTION');
    try {
      const conds: string[] = [];
      const params = [propertyId] as (bigint | number)[];
      if (cut.eventsBefore !== null) {
        params.push(cut.eventsBefore);
        conds.push(`event_timestamp < $${params.length}`);
      }
      if (cut.inactiveBefore !== null) {
        params.push(cut.inactiveBefore);
        conds.push(`user_pseudo_id IN (SELECT user_pseudo_id FROM ${EVENTS_TABLE} WHERE property_id = $1
  GROUP BY user_pseudo_id HAVING max(event_timestamp) < $${params.length})`);
      }
      const where = `property_id = $1 AND (${conds.join(' OR ')})`;
      await con.run(
        `CREATE OR REPLACE TEMP TABLE retention_devices AS SELECT DISTINCT user_pseudo_id AS device_id FROM ${EVENTS_TABLE} WHERE ${where}`,
        params,
      );
      const del = await con.run(`DELETE FROM ${EVENTS_TABLE} WHERE ${where}`, params);
      if (del.rowsChanged > 0) await refoldDevices(con, propertyId, 'retention_devices');
      await con.run('DROP TABLE retention_devices');
      await con.run('COMMIT');
      return del.rowsChanged;
    } catch (err) {
      await con.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }, 'DELETE expired events');
}

/** Deletes every event and folded attribute of a property (purge of a trashed property). */
export async function deletePropertyEvents(db: DuckDbDatabase, propertyId: bigint): Promise<number> {
  return db.maintenance.exclusive(async (con) => {
    await con.run('BEGIN TRANSACTION');
    try {
      const del = await con.run(`DELETE FROM ${EVENTS_TABLE} WHERE property_id = $1`, [propertyId]);
      await con.run(`DELETE FROM device_attributes WHERE property_id = $1`, [propertyId]);
      await con.run('COMMIT');
      return del.rowsChanged;
    } catch (err) {
      await con.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }, 'DELETE property events');
}
