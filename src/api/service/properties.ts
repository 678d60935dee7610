// The one existence check for a property that a request names. A deleted property is gone for
// every collection under it (audiences, exports, lists, recurring lists): NOT_FOUND, as for one
// that never existed; so is a trashed one. Callers check the key's role first, so a property the caller cannot see
// answers PERMISSION_DENIED before this and its existence is never revealed.

import type { CatalogDb } from '../../catalog/db.ts';
import { PropertyRepository } from '../../catalog/repos/properties.ts';
import { errors } from '../../domain/errors.ts';

export async function propertyExists(db: CatalogDb, propertyId: number): Promise<boolean> {
  // A trashed property (delete_time set, src/privacy/trash.ts) is gone for every read.
  return new PropertyRepository(db).isLive(propertyId);
}

export async function requireProperty(db: CatalogDb, propertyId: number): Promise<void> {
  if (!(await propertyExists(db, propertyId)))
    throw errors.notFound(`Property properties/${propertyId} not found.`);
}
