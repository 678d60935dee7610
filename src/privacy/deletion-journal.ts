// The user-deletion journal (table user_deletions, migration 006): a request is journaled
// (PENDING, with the id to delete) before it is acknowledged, and marked DONE with the id erased
// once every copy of the user's data is gone. Its catalog queries are in UserDeletionRepository
// (src/catalog/repos/user-deletions.ts) and ExportRepo; this module adds the subject hash.

import { createHash } from 'node:crypto';
import type { CatalogDb } from '../catalog/db.ts';
import { ExportRepo } from '../catalog/repos/exports.ts';
import { UserDeletionRepository, type DeletionKind } from '../catalog/repos/user-deletions.ts';

export type { DeletionKind };

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
  const id = await new UserDeletionRepository(db).insert({ ...d, subjectHash: hash });
  return { id, hash };
}

export async function pendingDeletions(db: CatalogDb): Promise<PendingDeletion[]> {
  const rows = await new UserDeletionRepository(db).pending();
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
  await new UserDeletionRepository(db).markDone(id, now, events);
}

export async function markDeletionFailed(db: CatalogDb, id: number, error: string): Promise<void> {
  await new UserDeletionRepository(db).markFailed(id, error);
}

/** The property's exports and lists with their state (for cleaning their snapshots). */
export async function exportsOfProperty(
  db: CatalogDb,
  propertyId: number,
): Promise<{ id: number; state: string; expire_time: number }[]> {
  return new ExportRepo(db).ofProperty(propertyId);
}

export async function setExportRowCount(db: CatalogDb, exportId: number, rows: number): Promise<void> {
  await new ExportRepo(db).setRowCount(exportId, rows);
}
