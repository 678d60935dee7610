// Trashed properties (GA4's soft delete): DeleteProperty sets `properties.delete_time`; the
// property then answers NOT_FOUND to every read (its own and its children's), collection stops
// (its measurement ids resolve to no stream), ListProperties shows it only with showDeleted, and
// the operator can restore it until expireTime = deleteTime + 35 days, when the purge job
// (src/privacy/lifecycle-job.ts) removes it with all its data. The catalog queries of the trash
// live here, in one small module.

import type { CatalogDb } from '../catalog/db.ts';

/** GA4 keeps a trashed property for 35 days. */
export const TRASH_MICROS = 35 * 86_400_000_000;

export function trashExpireTime(deleteTime: number): number {
  return deleteTime + TRASH_MICROS;
}

/** Moves a live property to the trash; false when it is not live. */
export async function trashProperty(db: CatalogDb, propertyId: number, now: number): Promise<boolean> {
  const r = await db
    .updateTable('properties')
    .set({ delete_time: now, update_time: now })
    .where('id', '=', propertyId)
    .where('delete_time', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Takes a property out of the trash before it expires; false when it is not restorable. */
export async function restoreProperty(db: CatalogDb, propertyId: number, now: number): Promise<boolean> {
  const r = await db
    .updateTable('properties')
    .set({ delete_time: null, update_time: now })
    .where('id', '=', propertyId)
    .where('delete_time', 'is not', null)
    .where('delete_time', '>', now - TRASH_MICROS)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Trashed properties whose 35 days are over. */
export async function expiredTrash(db: CatalogDb, now: number): Promise<number[]> {
  const rows = await db
    .selectFrom('properties')
    .select('id')
    .where('delete_time', 'is not', null)
    .where('delete_time', '<=', now - TRASH_MICROS)
    .execute();
  return rows.map((r) => r.id);
}

/**
 * Removes a property's catalog rows: exports and lists (their snapshots must be dropped first),
 * recurring lists, quota usage, pending user deletions, then the property itself (streams,
 * secrets, key bindings, audiences and retention settings cascade). One transaction.
 */
export async function purgePropertyCatalog(db: CatalogDb, propertyId: number): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('audience_exports').where('property_id', '=', propertyId).execute();
    await tx.deleteFrom('recurring_audience_lists').where('property_id', '=', propertyId).execute();
    await tx.deleteFrom('export_token_usage').where('property_id', '=', propertyId).execute();
    await tx.deleteFrom('user_deletions').where('property_id', '=', propertyId).execute();
    await tx.deleteFrom('properties').where('id', '=', propertyId).execute();
  });
}

/** Ids of the export rows (snapshots) of a property, for dropping before the purge. */
export async function exportIdsOf(db: CatalogDb, propertyId: number): Promise<number[]> {
  const rows = await db
    .selectFrom('audience_exports')
    .select('id')
    .where('property_id', '=', propertyId)
    .execute();
  return rows.map((r) => r.id);
}
