// The audiences aggregate in the catalog: one row per audience of a property (definitions as
// proto3 JSON text, built-ins marked by `builtin`, archiving instead of deletion). Every catalog
// query about audiences is here; AudienceService (src/api/service/audiences.ts) adds roles,
// validation and rendering on top.

import type { CatalogDb } from '../db.ts';
import type { AudiencesTable } from '../schema.ts';

export type AudienceRow = Omit<AudiencesTable, 'id' | 'archived'> & { id: number; archived: number };

export class AudienceRepository {
  constructor(private readonly db: CatalogDb) {}

  /** The `builtin` keys a property's built-in audiences already have. */
  async builtinKeys(propertyId: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('audiences')
      .select('builtin')
      .where('property_id', '=', propertyId)
      .where('builtin', 'is not', null)
      .execute();
    return rows.map((r) => r.builtin!);
  }

  async insert(row: {
    propertyId: number;
    displayName: string;
    definition: string;
    builtin: string | null;
    createTime: number;
  }): Promise<AudienceRow> {
    return this.db
      .insertInto('audiences')
      .values({
        property_id: row.propertyId,
        display_name: row.displayName,
        definition: row.definition,
        builtin: row.builtin,
        create_time: row.createTime,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** The property's audiences that are not archived, by id (optionally without one of them). */
  async listActive(propertyId: number, exceptId?: number): Promise<AudienceRow[]> {
    let q = this.db
      .selectFrom('audiences')
      .selectAll()
      .where('property_id', '=', propertyId)
      .where('archived', '=', 0);
    if (exceptId !== undefined) q = q.where('id', '!=', exceptId);
    return q.orderBy('id').execute();
  }

  /**
   * Every property's non-archived audiences whose definition may carry an eventTrigger, by id (a
   * text prefilter; the caller parses the definition to be sure). For the trigger logger.
   */
  async withPossibleTrigger(): Promise<
    Pick<AudienceRow, 'id' | 'property_id' | 'definition' | 'create_time'>[]
  > {
    return this.db
      .selectFrom('audiences')
      .select(['id', 'property_id', 'definition', 'create_time'])
      .where('archived', '=', 0)
      .where('definition', 'like', '%"eventTrigger"%')
      .orderBy('id')
      .execute();
  }

  async find(propertyId: number, audienceId: number): Promise<AudienceRow | undefined> {
    return this.db
      .selectFrom('audiences')
      .selectAll()
      .where('id', '=', audienceId)
      .where('property_id', '=', propertyId)
      .executeTakeFirst();
  }

  async updateDefinition(id: number, displayName: string, definition: string): Promise<AudienceRow> {
    return this.db
      .updateTable('audiences')
      .set({ display_name: displayName, definition })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async archive(id: number): Promise<void> {
    await this.db.updateTable('audiences').set({ archived: 1 }).where('id', '=', id).execute();
  }
}
