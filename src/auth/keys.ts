// API keys: random secrets handed out once, stored only as a SHA-256 hash. Lookups are cached
// briefly so that a busy API does not hit the catalog on every request; revocation clears the cache.

import { createHash, randomBytes } from 'node:crypto';
import type { CatalogDb } from '../catalog/db.ts';
import { KeyRepository, type StoredKey } from '../catalog/repos/keys.ts';
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

/** A key as the admin API lists it (never the key text). */
export type KeyInfo = StoredKey;

export class KeyService {
  private readonly cache = new Map<string, { principal: Principal | null; at: number }>();
  private readonly repo: KeyRepository;

  constructor(db: CatalogDb) {
    this.repo = new KeyRepository(db);
  }

  /** Stores a key (given or generated); returns the key text, which is not kept anywhere. */
  async create(opts: {
    key?: string;
    displayName?: string;
    superuser?: boolean;
    bindings?: { propertyId: number; role: Role }[];
  }): Promise<{ key: string; id: number }> {
    const key = opts.key ?? generateKey();
    const id = await this.repo.insert(
      {
        hash: hashKey(key),
        prefix: key.slice(0, KEY_PREFIX.length + 4),
        displayName: opts.displayName ?? '',
        superuser: opts.superuser ?? false,
        createTime: Number(nowMicros()),
      },
      opts.bindings ?? [],
    );
    this.cache.clear();
    return { key, id };
  }

  async hasAnyKey(): Promise<boolean> {
    return this.repo.any();
  }

  async authenticate(key: string): Promise<Principal | null> {
    const hash = hashKey(key);
    const hit = this.cache.get(hash);
    if (hit && Date.now() - hit.at < 5_000) return hit.principal;
    const row = await this.repo.findActiveByHash(hash);
    const principal: Principal | null = row
      ? {
          keyId: row.id,
          superuser: row.superuser,
          roles: new Map(row.bindings.map((b) => [b.propertyId, b.role])),
        }
      : null;
    this.cache.set(hash, { principal, at: Date.now() });
    return principal;
  }

  async list(): Promise<KeyInfo[]> {
    return this.repo.list();
  }

  async revoke(id: number): Promise<void> {
    if (!(await this.repo.revoke(id, Number(nowMicros()))))
      throw errors.notFound(`API key ${id} not found or already revoked.`);
    this.cache.clear();
  }

  /** Drops cached principals, e.g. after a property was created and bound to keys. */
  invalidate(): void {
    this.cache.clear();
  }
}
