// Reading stored events back (an audex extension): for debugging collection and for the web UI's
// event preview. Admin role, since events carry user identifiers.

import type { EventStore } from '../../storage/contract.ts';
import { errors } from '../../domain/errors.ts';
import { parseProperty } from '../../domain/names.ts';
import { requireRole, type Principal } from '../../auth/principal.ts';
import type { CatalogDb } from '../../catalog/db.ts';
import { requireProperty } from './properties.ts';

/** JSON cannot carry bigint: int64 values become decimal strings, as proto3 JSON writes int64. */
export function jsonSafe(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}

export class EventReadService {
  constructor(
    private readonly events: EventStore,
    /** When given, a trashed or unknown property answers NOT_FOUND (src/privacy/trash.ts). */
    private readonly catalog?: CatalogDb,
  ) {}

  async list(p: Principal, parent: string, query: URLSearchParams) {
    const propertyId = parseProperty(parent, 'parent');
    requireRole(p, propertyId, 'admin');
    if (this.catalog) await requireProperty(this.catalog, propertyId);
    const limitRaw = query.get('limit') ?? '100';
    const limit = Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw errors.invalidField('limit', 'must be an integer from 1 to 10000.');
    const userPseudoId = query.get('userPseudoId') ?? undefined;
    const rows = await this.events.readEvents(BigInt(propertyId), {
      ...(userPseudoId ? { userPseudoId } : {}),
      limit,
    });
    return { events: jsonSafe(rows), totalEvents: await this.events.countEvents(BigInt(propertyId)) };
  }
}
