// API keys: random secrets handed out once, stored only as a SHA-256 hash. Lookups are cached
// briefly so that a busy API does not hit the catalog on every request; revocation clears the cache.

import { createHash, randomBytes } from 'node:crypto';
import type { CatalogDb } from '../catalog/db.ts';
import { errors } from '../domain/errors.ts';
import { nowMicros } from '../domain/time.ts';
import type { Principal, Role } from './principal.ts';

const KEY_PREFIX = 'audex_';

export function generateKey(): string {
  return KEY_PREFIX + randomBytes(24).toString('base64url');
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface KeyInfo {
  id: number;
  prefix: string;
  displayName: string;
  superuser: boolean;
  createTime: number;
  revokeTime: number | null;
  bindings: { propertyId: number; role: Role }[];
}

export class KeyService {
  private readonly cache = new Map<string, { principal: Principal | null; at: number }>();

  constructor(private readonly db: CatalogDb) {}

  /** Stores a key (given or generated); returns the key text, which is not kept anywhere. */
  async create(opts: {
    key?: string;
    displayName?: string;
    superuser?: boolean;
    bindings?: { propertyId: number; role: Role }[];
  }): Promise<{ key: string; id: number }> {
    const key = opts.key ?? generateKey();
    const id = await this.db.transaction().execute(async (tx) => {
      const row = await tx
        .insertInto('api_keys')
        .values({
          key_hash: hashKey(key),
          key_prefix: key.slice(0, KEY_PREFIX.length + 4),
          display_name: opts.displayName ?? '',
          superuser: opts.superuser ? 1 : 0,
          create_time: Number(nowMicros()),
          revoke_time: null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      for (const b of opts.bindings ?? []) {
        await tx
          .insertInto('api_key_bindings')
          .values({ key_id: row.id, property_id: b.propertyId, role: b.role })
          .execute();
      }
      return row.id;
    });
    this.cache.clear();
    return { key, id };
  }

  async hasAnyKey(): Promise<boolean> {
    const row = await this.db.selectFrom('api_keys').select('id').limit(1).executeTakeFirst();
    return row !== undefined;
  }

  async authenticate(key: string): Promise<Principal | null> {
    const hash = hashKey(key);
    const hit = this.cache.get(hash);
    if (hit && Date.now() - hit.at < 5_000) return hit.principal;
    const row = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('key_hash', '=', hash)
      .where('revoke_time', 'is', null)
      .executeTakeFirst();
    let principal: Principal | null = null;
    if (row) {
      const bindings = await this.db
        .selectFrom('api_key_bindings')
        .select(['property_id', 'role'])
        .where('key_id', '=', row.id)
        .execute();
      principal = {
        keyId: row.id,
        superuser: row.superuser === 1,
        roles: new Map(bindings.map((b) => [b.property_id, b.role])),
      };
    }
    this.cache.set(hash, { principal, at: Date.now() });
    return principal;
  }

  async list(): Promise<KeyInfo[]> {
    const keys = await this.db.selectFrom('api_keys').selectAll().orderBy('id').execute();
    const bindings = await this.db.selectFrom('api_key_bindings').selectAll().execute();
    return keys.map((k) => ({
      id: k.id,
      prefix: k.key_prefix,
      displayName: k.display_name,
      superuser: k.superuser === 1,
      createTime: k.create_time,
      revokeTime: k.revoke_time,
      bindings: bindings
        .filter((b) => b.key_id === k.id)
        .map((b) => ({ propertyId: b.property_id, role: b.role })),
    }));
  }

  async revoke(id: number): Promise<void> {
    const res = await this.db
      .updateTable('api_keys')
      .set({ revoke_time: Number(nowMicros()) })
      .where('id', '=', id)
      .where('revoke_time', 'is', null)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0)
      throw errors.notFound(`API key ${id} not found or already revoked.`);
    this.cache.clear();
  }

  /** Drops cached principals, e.g. after a property was created and bound to keys. */
  invalidate(): void {
    this.cache.clear();
  }
}
