// Who is calling and what they may do. Roles are ordered: viewer < editor < admin.
// A key that lacks a property gets PERMISSION_DENIED whether or not the property exists, so a
// key never learns of another property's existence.

import { errors } from '../domain/errors.ts';

export type Role = 'viewer' | 'editor' | 'admin';
const RANK: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };

export interface Principal {
  keyId: number;
  /** The operator's key: admin on every property, may manage keys and create properties. */
  superuser: boolean;
  /** property id → role */
  roles: ReadonlyMap<number, Role>;
}

export function hasRole(p: Principal, propertyId: number, needed: Role): boolean {
  if (p.superuser) return true;
  const role = p.roles.get(propertyId);
  return role !== undefined && RANK[role] >= RANK[needed];
}

/** Throws PERMISSION_DENIED unless the principal holds `needed` (or more) on the property. */
export function requireRole(p: Principal, propertyId: number, needed: Role): void {
  if (!hasRole(p, propertyId, needed)) throw errors.permissionDenied();
}

export function requireSuperuser(p: Principal): void {
  if (!p.superuser) throw errors.permissionDenied('This operation needs the operator (superuser) key.');
}

/** Properties the principal can see at all, or 'all'. */
export function visibleProperties(p: Principal): 'all' | ReadonlySet<number> {
  return p.superuser ? 'all' : new Set(p.roles.keys());
}
