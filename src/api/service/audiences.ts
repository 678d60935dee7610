// Admin API v1alpha audiences: create, get, list, patch, archive; plus the built-in "All Users" and
// "Purchasers" audiences every property has. Definitions are validated by src/audience/validate.ts
// and stored as proto3 JSON.

import type { CatalogDb } from '../../catalog/db.ts';
import { AudienceRepository, type AudienceRow } from '../../catalog/repos/audiences.ts';
import type { AudienceDefinition } from '../../domain/audience.ts';
import { ApiError, errors } from '../../domain/errors.ts';
import { parseName, parseProperty } from '../../domain/names.ts';
import { microsToRfc3339, nowMicros } from '../../domain/time.ts';
import { requireRole, type Principal } from '../../auth/principal.ts';
import {
  BUILTIN_AUDIENCES,
  audienceToJson,
  checkPropertyLimits,
  parseAudience,
  parseAudienceUpdate,
} from '../../audience/validate.ts';
import { pageOf, parsePage, type PageRequest } from './paging.ts';
import { requireProperty } from './properties.ts';

export interface StoredAudience {
  name: string;
  propertyId: number;
  audienceId: number;
  definition: AudienceDefinition;
  createTimeMicros: bigint;
  archived: boolean;
}

function serialize(def: AudienceDefinition): string {
  return JSON.stringify(
    audienceToJson(def, { name: '', createTime: '', adsPersonalizationEnabled: true }, false),
  );
}

function toStored(row: AudienceRow): StoredAudience {
  return {
    name: `properties/${row.property_id}/audiences/${row.id}`,
    propertyId: row.property_id,
    audienceId: row.id,
    definition: parseAudience(JSON.parse(row.definition)),
    createTimeMicros: BigInt(row.create_time),
    archived: row.archived === 1,
  };
}

function audienceJson(row: AudienceRow) {
  const a = toStored(row);
  return audienceToJson(
    a.definition,
    {
      name: a.name,
      createTime: microsToRfc3339(a.createTimeMicros),
      // audex has no custom dimensions flagged NPA, so every audience allows ads personalisation.
      adsPersonalizationEnabled: true,
      hideFilterClauses: row.builtin !== null,
    },
    false,
  );
}

export class AudienceService {
  private readonly repo: AudienceRepository;

  constructor(private readonly db: CatalogDb) {
    this.repo = new AudienceRepository(db);
  }

  /** Gives a new property its built-in audiences (idempotent). */
  async ensureBuiltins(propertyId: number): Promise<void> {
    const have = await this.repo.builtinKeys(propertyId);
    const now = Number(nowMicros());
    for (const b of BUILTIN_AUDIENCES) {
      if (have.includes(b.key)) continue;
      await this.repo.insert({
        propertyId,
        displayName: b.definition.displayName,
        definition: serialize(b.definition),
        builtin: b.key,
        createTime: now,
      });
    }
  }

  private async active(propertyId: number, exceptId?: number): Promise<AudienceDefinition[]> {
    return (await this.repo.listActive(propertyId, exceptId)).map((r) => toStored(r).definition);
  }

  private async row(
    p: Principal,
    name: unknown,
    field: string,
    role: 'viewer' | 'editor',
  ): Promise<AudienceRow> {
    const [propertyId, audienceId] = parseName('audience', name, field);
    requireRole(p, propertyId!, role);
    const row = await this.repo.find(propertyId!, audienceId!);
    if (!row) throw errors.notFound(`Audience ${String(name)} not found.`);
    return row;
  }

  async create(p: Principal, parent: string, body: unknown) {
    const propertyId = parseProperty(parent, 'parent');
    requireRole(p, propertyId, 'editor');
    await requireProperty(this.db, propertyId);
    const def = parseAudience(body);
    checkPropertyLimits(def, await this.active(propertyId), 'create');
    const row = await this.repo.insert({
      propertyId,
      displayName: def.displayName,
      definition: serialize(def),
      builtin: null,
      createTime: Number(nowMicros()),
    });
    return audienceJson(row);
  }

  async get(p: Principal, name: string) {
    return audienceJson(await this.row(p, name, 'name', 'viewer'));
  }

  async list(p: Principal, parent: string, req: PageRequest) {
    const propertyId = parseProperty(parent, 'parent');
    requireRole(p, propertyId, 'viewer');
    await requireProperty(this.db, propertyId);
    const rows = await this.repo.listActive(propertyId);
    const page = pageOf(
      rows,
      parsePage(req, { defaultSize: 50, maxSize: 200, binding: `audiences|${parent}` }),
    );
    return {
      audiences: page.items.map(audienceJson),
      ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    };
  }

  async update(p: Principal, name: string, body: unknown, updateMask: string | undefined) {
    const row = await this.row(p, name, 'audience.name', 'editor');
    if (row.builtin !== null)
      throw errors.failedPrecondition(`${name} is a built-in audience and cannot be changed.`);
    if (row.archived === 1) throw errors.failedPrecondition(`${name} is archived and cannot be changed.`);
    const updated = parseAudienceUpdate(toStored(row).definition, body, updateMask);
    checkPropertyLimits(updated, await this.active(row.property_id, row.id), 'update');
    const saved = await this.repo.updateDefinition(row.id, updated.displayName, serialize(updated));
    return audienceJson(saved);
  }

  async archive(p: Principal, name: string) {
    const row = await this.row(p, name, 'name', 'editor');
    if (row.builtin !== null)
      throw errors.failedPrecondition(`${name} is a built-in audience and cannot be archived.`);
    await this.repo.archive(row.id);
    return {};
  }

  /** For exports: the audience's definition; NOT_FOUND when missing, FAILED_PRECONDITION when archived. */
  async forExport(p: Principal, name: unknown, field: string): Promise<StoredAudience> {
    const stored = toStored(await this.row(p, name, field, 'viewer'));
    if (stored.archived)
      throw errors.failedPrecondition(`${stored.name} is archived and cannot be exported.`);
    return stored;
  }

  /**
   * forExport for a create request whose `field` names the audience: a missing audience is
   * NOT_FOUND (data-api.md §6: "audience not found → 404"), an archived one a bad argument of that
   * request (INVALID_ARGUMENT); both messages name the field.
   */
  async forExportRequest(p: Principal, name: unknown, field: string): Promise<StoredAudience> {
    try {
      return await this.forExport(p, name, field);
    } catch (err) {
      if (err instanceof ApiError && err.status === 'NOT_FOUND')
        throw errors.notFound(`${field}: audience ${String(name)} was not found.`);
      if (err instanceof ApiError && err.status === 'FAILED_PRECONDITION')
        throw errors.invalidField(field, err.message);
      throw err;
    }
  }
}
