// The API keys aggregate in the catalog: a key (stored only as its hash) and its property role
// bindings. Every catalog query about keys is here; KeyService (src/auth/keys.ts) adds hashing,
// caching and errors on top.

import type { CatalogDb } from '../db.ts';
import type { Role } from '../../auth/principal.ts';

export interface KeyBinding {
  propertyId: number;
  role: Role;
}

export interface StoredKey {
  id: number;
  prefix: string;
  displayName: string;
  superuser: boolean;
  createTime: number;
  revokeTime: number | null;
  bindings: KeyBinding[];
}

export class KeyRepository {
  constructor(private readonly db: CatalogDb) {}

  /** Inserts a key and its bindings in one transaction; returns its id. */
  async insert(
    key: { hash: string; prefix: string; displayName: string; superuser: boolean; createTime: number },
    bindings: readonly KeyBinding[],
  ): Promise<number> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .insertInto('api_keys')
        .values({
          key_hash: key.hash,
          key_prefix: key.prefix,
          display_name: key.displayName,
          superuser: key.superuser ? 1 : 0,
          create_time: key.createTime,
          revoke_time: null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      for (const b of bindings) {
        await tx
          .insertInto('api_key_bindings')
          .values({ key_id: row.id, property_id: b.propertyId, role: b.role })
          .execute();
      }
      return row.id;
    });
  }

  async any(): Promise<boolean> {
    const row = await this.db.selectFrom('api_keys').select('id').limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /** The unrevoked key with this hash and its bindings, or undefined. */
  async findActiveByHash(
    hash: string,
  ): Promise<{ id: number; superuser: boolean; bindings: KeyBinding[] } | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('key_hash', '=', hash)
      .where('revoke_time', 'is', null)
      .executeTakeFirst();
    if (!row) return undefined;
    const bindings = await this.db
      .selectFrom('api_key_bindings')
      .select(['property_id', 'role'])
      .where('key_id', '=', row.id)
      .execute();
    return {
      id: row.id,
      superuser: row.superuser === 1,
      bindings: bindings.map((b) => ({ propertyId: b.property_id, role: b.role })),
    };
  }

  /** Every key, revoked ones included, by id. */
  async list(): Promise<StoredKey[]> {
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

  /** Marks an unrevoked key revoked; false when there is none with this id. */
  async revoke(id: number, time: number): Promise<boolean> {
    const res = await this.db
      .updateTable('api_keys')
      .set({ revoke_time: time })
      .where('id', '=', id)
      .where('revoke_time', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
}
