// API-key management (an audex extension, under /audex/v1): the operator's superuser key manages
// every key; a property admin manages keys bound only to properties it administers.

import { errors } from '../../domain/errors.ts';
import { parseProperty } from '../../domain/names.ts';
import { microsToRfc3339 } from '../../domain/time.ts';
import { hasRole, requireRole, type Principal, type Role } from '../../auth/principal.ts';
import type { KeyInfo, KeyService } from '../../auth/keys.ts';

const ROLES: Role[] = ['viewer', 'editor', 'admin'];

function keyJson(k: KeyInfo) {
  return {
    name: `keys/${k.id}`,
    keyPrefix: k.prefix,
    displayName: k.displayName,
    superuser: k.superuser,
    createTime: microsToRfc3339(k.createTime),
    ...(k.revokeTime !== null ? { revokeTime: microsToRfc3339(k.revokeTime) } : {}),
    bindings: k.bindings.map((b) => ({ property: `properties/${b.propertyId}`, role: b.role })),
  };
}

export class KeyAdminService {
  constructor(private readonly keys: KeyService) {}

  async create(p: Principal, body: unknown) {
    const input = (body ?? {}) as { displayName?: unknown; bindings?: unknown };
    if (!Array.isArray(input.bindings) || input.bindings.length === 0) {
      throw errors.invalidField('bindings', 'at least one {property, role} binding is required.');
    }
    const bindings = input.bindings.map((b: unknown, i: number) => {
      const { property, role } = (b ?? {}) as { property?: unknown; role?: unknown };
      const propertyId = parseProperty(property, `bindings[${i}].property`);
      if (typeof role !== 'string' || !ROLES.includes(role as Role)) {
        throw errors.invalidField(`bindings[${i}].role`, 'must be one of viewer, editor, admin.');
      }
      requireRole(p, propertyId, 'admin');
      return { propertyId, role: role as Role };
    });
    const displayName = typeof input.displayName === 'string' ? input.displayName.slice(0, 100) : '';
    const { key, id } = await this.keys.create({ displayName, bindings });
    const info = (await this.keys.list()).find((k) => k.id === id)!;
    return { ...keyJson(info), key };
  }

  async list(p: Principal) {
    const all = await this.keys.list();
    const visible = p.superuser
      ? all
      : all.filter(
          (k) =>
            !k.superuser &&
            k.bindings.length > 0 &&
            k.bindings.every((b) => hasRole(p, b.propertyId, 'admin')),
        );
    return { keys: visible.map(keyJson) };
  }

  async revoke(p: Principal, name: string) {
    const m = /^keys\/([1-9][0-9]{0,17})$/.exec(name);
    if (!m) throw errors.invalidField('name', 'must be of the form keys/{id}.');
    const id = Number(m[1]);
    const info = (await this.keys.list()).find((k) => k.id === id);
    const allowed =
      info &&
      (p.superuser || (!info.superuser && info.bindings.every((b) => hasRole(p, b.propertyId, 'admin'))));
    if (!info || !allowed) throw errors.notFound(`API key ${name} not found.`);
    await this.keys.revoke(id);
    return {};
  }
}
