// Catalog queries of the user-deletion journal (table user_deletions, migration 006): a request
// is journaled (PENDING, with the id to delete) before it is acknowledged, and marked DONE with the
// id erased once every copy of the user's data is gone. Kept apart so that they move as one.

import { createHash } from 'node:crypto';
import type { CatalogDb } from '../catalog/db.ts';
import type { UserDeletionsTable } from '../catalog/schema.ts';

export type DeletionKind = UserDeletionsTable['kind'];

export interface PendingDeletion {
  id: number;
  propertyId: number;
  kind: DeletionKind;
  subject: string;
  requestTime: number;
  attempts: number;
}

/**
 * What logs and the journal keep of the id: a short sha256 of (property, kind, id), enough to tell
 * requests apart and to match a request someone asks about, not to print the id.
 */
export function subjectHash(propertyId: number, kind: DeletionKind, subject: string): string {
  return createHash('sha256').update(`${propertyId}\u0000${kind}\u0000${subject}`).digest('hex').slice(0, 16);
}

export async function journalDeletion(
  db: CatalogDb,
  d: { propertyId: number; kind: DeletionKind; subject: string; requestTime: number },
): Promise<{ id: number; hash: string }> {
  const hash = subjectHash(d.propertyId, d.kind, d.subject);
  const row = await db
    .insertInto('user_deletions')
    .values({
      property_id: d.propertyId,
      kind: d.kind,
      subject: d.subject,
      subject_hash: hash,
      request_time: d.requestTime,
      state: 'PENDING',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, hash };
}

export async function pendingDeletions(db: CatalogDb): Promise<PendingDeletion[]> {
  const rows = await db
    .selectFrom('user_deletions')
    .selectAll()
    .where('state', '=', 'PENDING')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    propertyId: r.property_id,
    kind: r.kind,
    subject: r.subject ?? '',
    requestTime: r.request_time,
    attempts: r.attempts,
  }));
}

export async function markDeletionDone(
  db: CatalogDb,
  id: number,
  now: number,
  events: number,
): Promise<void> {
  await db
    .updateTable('user_deletions')
    .set({ state: 'DONE', subject: null, done_time: now, events_deleted: events, last_error: null })
    .where('id', '=', id)
    .execute();
}

export async function markDeletionFailed(db: CatalogDb, id: number, error: string): Promise<void> {
  await db
    .updateTable('user_deletions')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error.slice(0, 1000) }))
    .where('id', '=', id)
    .execute();
}

/** The property's exports and lists with their state (for cleaning their snapshots). */
export async function exportsOfProperty(
  db: CatalogDb,
  propertyId: number,
): Promise<{ id: number; state: string; expire_time: number }[]> {
  return db
    .selectFrom('audience_exports')
    .select(['id', 'state', 'expire_time'])
    .where('property_id', '=', propertyId)
    .execute();
}

export async function setExportRowCount(db: CatalogDb, exportId: number, rows: number): Promise<void> {
  await db.updateTable('audience_exports').set({ row_count: rows }).where('id', '=', exportId).execute();
}
