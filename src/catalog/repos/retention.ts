// A property's DataRetentionSettings in the catalog (table data_retention_settings; no row = never
// set). Every catalog query about them is here; the durations, defaults and update-mask rules are in
// src/privacy/retention.ts.

import type { CatalogDb } from '../db.ts';
import type { DataRetentionSettingsTable } from '../schema.ts';

export type RetentionRow = DataRetentionSettingsTable;
export type RetentionValues = Omit<DataRetentionSettingsTable, 'property_id' | 'update_time'>;

export class RetentionSettingsRepository {
  constructor(private readonly db: CatalogDb) {}

  /** The settings of every property that has them and is not in the trash. */
  async allLive(): Promise<RetentionRow[]> {
    return this.db
      .selectFrom('data_retention_settings')
      .innerJoin('properties', 'properties.id', 'data_retention_settings.property_id')
      .selectAll('data_retention_settings')
      .where('properties.delete_time', 'is', null)
      .execute();
  }

  async find(propertyId: number): Promise<RetentionRow | undefined> {
    return this.db
      .selectFrom('data_retention_settings')
      .selectAll()
      .where('property_id', '=', propertyId)
      .executeTakeFirst();
  }

  /** Inserts or replaces a property's settings. */
  async upsert(propertyId: number, values: RetentionValues, now: number): Promise<void> {
    await this.db
      .insertInto('data_retention_settings')
      .values({ property_id: propertyId, ...values, update_time: now })
      .onConflict((oc) => oc.column('property_id').doUpdateSet({ ...values, update_time: now }))
      .execute();
  }
}
