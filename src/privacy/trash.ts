// Trashed properties (GA4's soft delete): DeleteProperty sets `properties.delete_time`; the
// property then answers NOT_FOUND to every read (its own and its children's), collection stops
// (its measurement ids resolve to no stream), ListProperties shows it only with showDeleted, and
// the operator can restore it until expireTime = deleteTime + 35 days, when the purge job
// (src/privacy/lifecycle-job.ts) removes it with all its data. This module holds the trash's rules
// (the 35 days); its catalog queries are in PropertyRepository (src/catalog/repos/properties.ts).

import type { CatalogDb } from '../catalog/db.ts';
import { ExportRepo } from '../catalog/repos/exports.ts';
import { PropertyRepository } from '../catalog/repos/properties.ts';

/** GA4 keeps a trashed property for 35 days. */
export const TRASH_MICROS = 35 * 86_400_000_000;

export function trashExpireTime(deleteTime: number): number {
  return deleteTime + TRASH_MICROS;
}

/** Moves a live property to the trash; false when it is not live. */
export async function trashProperty(db: CatalogDb, propertyId: number, now: number): Promise<boolean> {
  return new PropertyRepository(db).trash(propertyId, now);
}

/** Takes a property out of the trash before it expires; false when it is not restorable. */
export async function restoreProperty(db: CatalogDb, propertyId: number, now: number): Promise<boolean> {
  return new PropertyRepository(db).restore(propertyId, now, now - TRASH_MICROS);
}

/** Trashed properties whose 35 days are over. */
export async function expiredTrash(db: CatalogDb, now: number): Promise<number[]> {
  return new PropertyRepository(db).trashedBy(now - TRASH_MICROS);
}

/**
 * Removes a property's catalog rows (PropertyRepository.purge); the snapshots of its exports must
 * be dropped first (exportIdsOf).
 */
export async function purgePropertyCatalog(db: CatalogDb, propertyId: number): Promise<void> {
  await new PropertyRepository(db).purge(propertyId);
}

/** Ids of the export rows (snapshots) of a property, for dropping before the purge. */
export async function exportIdsOf(db: CatalogDb, propertyId: number): Promise<number[]> {
  return (await new ExportRepo(db).ofProperty(propertyId)).map((r) => r.id);
}
