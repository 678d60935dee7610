// DataEraser on ClickHouse: the privacy deletes (src/privacy/) as mutations.
//
// ClickHouse deletes rows with `ALTER TABLE … DELETE WHERE …`, a mutation that rewrites the
// affected parts in the background. Each delete here runs on every node's MergeTree (the local
// table on a cluster: a mutation cannot go through a Distributed table) and waits until
// system.mutations reports it done, so a resolved call means the rows are gone. The count of
// deleted rows is taken just before (ClickHouse does not report it). Device lists are computed
// first and passed as literal sets: 18.16 mutations do not take subqueries reliably.
// There is no folded device-attribute table on ClickHouse (snapshots aggregate the events), so
// deleteDeviceAttributes has nothing to do.

import type { DataEraser, DeletionSubject, RetentionCut } from '../contract.ts';
import { join, param, sql, type Fragment } from '../../audience/compile/sql.ts';
import { StorageError } from '../errors.ts';
import type { ClickHouseNodes } from './connection.ts';
import { EVENTS, EVENTS_LOCAL, table } from './schema.ts';
import type { ClickHouseSnapshotStore } from './snapshots.ts';

/** Devices per mutation, so a statement stays a reasonable size. */
const DEVICES_PER_DELETE = 10_000;

/** `(v1, v2, …)` of string literals; never called with an empty list (ClickHouse types `()` apart). */
function inList(values: readonly string[]): Fragment {
  return sql`(${join(
    values.map((v) => sql`${param(v)}`),
    ', ',
  )})`;
}

/**
 * Deletes the events matching `where` on every node (the local table on a cluster) and waits for
 * the mutations; returns how many there were. Also used to undo a partial import (import-moves.ts).
 */
export async function deleteEvents(nodes: ClickHouseNodes, where: Fragment): Promise<number> {
  const { database, cluster } = nodes.target;
  const counted = await nodes.rows(sql`SELECT count() AS n FROM ${table(database, EVENTS)} WHERE ${where}`);
  const n = Number(counted[0]?.n ?? 0);
  if (n === 0) return 0;
  const local = cluster === null ? EVENTS : EVENTS_LOCAL;
  for (let node = 0; node < nodes.nodeCount; node++) {
    await nodes.command(sql`ALTER TABLE ${table(database, local)} DELETE WHERE ${where}`, node);
    await waitForMutations(nodes, node, local);
  }
  return n;
}

async function waitForMutations(nodes: ClickHouseNodes, node: number, tableName: string): Promise<void> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const rows = await nodes.rowsOn(
      node,
      sql`SELECT count() AS n FROM system.mutations WHERE database = ${param(nodes.target.database)} AND table = ${param(tableName)} AND is_done = 0`,
    );
    if (Number(rows[0]?.n ?? 0) === 0) return;
    if (Date.now() > deadline)
      throw new StorageError(
        'unavailable',
        'a ClickHouse delete (mutation) did not finish within 10 minutes',
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class ClickHouseDataEraser implements DataEraser {
  constructor(
    private readonly nodes: ClickHouseNodes,
    private readonly snapshots: ClickHouseSnapshotStore,
  ) {}

  private get events(): Fragment {
    return table(this.nodes.target.database, EVENTS);
  }

  async deleteUserEvents(
    propertyId: bigint,
    subject: DeletionSubject,
  ): Promise<{ devices: string[]; events: number }> {
    let devices: string[];
    if (subject.kind === 'user_id') {
      const rows = await this.nodes.rows(
        sql`SELECT DISTINCT user_pseudo_id AS d FROM ${this.events} WHERE property_id = ${param(propertyId)} AND user_id = ${param(subject.value)} ORDER BY d`,
      );
      devices = rows.map((r) => String(r.d));
    } else devices = [subject.value];
    let events = 0;
    // The first statement takes the user's own events too, so a user id with no device left
    // still has them deleted; then every event of their devices, in chunks.
    for (let i = 0; i < Math.max(1, devices.length); i += DEVICES_PER_DELETE) {
      const chunk = devices.slice(i, i + DEVICES_PER_DELETE);
      const of: Fragment[] = [];
      if (chunk.length > 0) of.push(sql`user_pseudo_id IN ${inList(chunk)}`);
      if (subject.kind === 'user_id' && i === 0) of.push(sql`user_id = ${param(subject.value)}`);
      if (of.length === 0) continue;
      events += await deleteEvents(
        this.nodes,
        sql`property_id = ${param(propertyId)} AND (${join(of, ' OR ')})`,
      );
    }
    return { devices, events };
  }

  async deleteDeviceAttributes(): Promise<void> {
    // Nothing is folded on ClickHouse: snapshots aggregate the (now deleted) events.
  }

  async deleteFromSnapshot(
    snapshotId: string,
    devices: string[],
    userId: string | null,
  ): Promise<{ removed: number; rows: number } | null> {
    return this.snapshots.removeRows(snapshotId, new Set(devices), userId);
  }

  async deleteExpiredEvents(propertyId: bigint, cut: RetentionCut): Promise<number> {
    let deleted = 0;
    if (cut.eventsBefore !== null)
      deleted += await deleteEvents(
        this.nodes,
        sql`property_id = ${param(propertyId)} AND event_timestamp < ${param(cut.eventsBefore)}`,
      );
    if (cut.inactiveBefore !== null) {
      const rows = await this.nodes.rows(
        sql`SELECT user_pseudo_id AS d FROM ${this.events} WHERE property_id = ${param(propertyId)} GROUP BY d HAVING max(event_timestamp) < ${param(cut.inactiveBefore)}`,
      );
      const devices = rows.map((r) => String(r.d));
      for (let i = 0; i < devices.length; i += DEVICES_PER_DELETE)
        deleted += await deleteEvents(
          this.nodes,
          sql`property_id = ${param(propertyId)} AND user_pseudo_id IN ${inList(devices.slice(i, i + DEVICES_PER_DELETE))}`,
        );
    }
    return deleted;
  }

  deletePropertyEvents(propertyId: bigint): Promise<number> {
    return deleteEvents(this.nodes, sql`property_id = ${param(propertyId)}`);
  }
}
