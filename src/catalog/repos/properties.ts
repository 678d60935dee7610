// The properties aggregate in the catalog: properties, their web data streams and the streams'
// Measurement Protocol secrets. Every catalog query about them is here; AdminService
// (src/api/service/admin.ts) adds roles, validation and rendering on top, and the trash
// (src/privacy/trash.ts) decides when delete_time is set, cleared and expired.

import type { Generated, Insertable, Updateable } from 'kysely';
import type { CatalogDb } from '../db.ts';
import type { DataStreamsTable, MpSecretsTable, PropertiesTable } from '../schema.ts';

type Row<T> = { [K in keyof T]: T[K] extends Generated<infer U> ? U : T[K] };
export type PropertyRow = Row<PropertiesTable>;
export type StreamRow = Row<DataStreamsTable>;
export type SecretRow = Row<MpSecretsTable>;

export class PropertyRepository {
  constructor(private readonly db: CatalogDb) {}

  async insertProperty(values: Insertable<PropertiesTable>): Promise<PropertyRow> {
    return this.db.insertInto('properties').values(values).returningAll().executeTakeFirstOrThrow();
  }

  /** A property that is not in the trash. */
  async findLive(id: number): Promise<PropertyRow | undefined> {
    return this.db
      .selectFrom('properties')
      .selectAll()
      .where('id', '=', id)
      .where('delete_time', 'is', null)
      .executeTakeFirst();
  }

  /** Whether a property exists and is not in the trash. */
  async isLive(id: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('properties')
      .select('id')
      .where('id', '=', id)
      .where('delete_time', 'is', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The time zone of a property (in the trash or not). */
  async timeZone(id: number): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('properties')
      .select('time_zone')
      .where('id', '=', id)
      .executeTakeFirst();
    return row?.time_zone;
  }

  /** Whether the catalog has any property at all (in the trash or not). */
  async any(): Promise<boolean> {
    return (await this.db.selectFrom('properties').select('id').limit(1).executeTakeFirst()) !== undefined;
  }

  /** The oldest property with this display name (in the trash or not). */
  async firstByDisplayName(displayName: string): Promise<PropertyRow | undefined> {
    return this.db
      .selectFrom('properties')
      .selectAll()
      .where('display_name', '=', displayName)
      .orderBy('id')
      .executeTakeFirst();
  }

  /** Sets delete_time on a live property; false when it is not live. */
  async trash(id: number, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('properties')
      .set({ delete_time: now, update_time: now })
      .where('id', '=', id)
      .where('delete_time', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Clears delete_time of a property trashed after `trashedAfter`; false when there is none. */
  async restore(id: number, now: number, trashedAfter: number): Promise<boolean> {
    const r = await this.db
      .updateTable('properties')
      .set({ delete_time: null, update_time: now })
      .where('id', '=', id)
      .where('delete_time', 'is not', null)
      .where('delete_time', '>', trashedAfter)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Ids of the properties trashed at or before `trashedBy`. */
  async trashedBy(trashedBy: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('properties')
      .select('id')
      .where('delete_time', 'is not', null)
      .where('delete_time', '<=', trashedBy)
      .execute();
    return rows.map((r) => r.id);
  }

  /**
   * Removes a property's catalog rows: exports and lists (their snapshots must be dropped first),
   * recurring lists, quota usage, pending user deletions, then the property itself (streams,
   * secrets, key bindings, audiences and retention settings cascade). One transaction.
   */
  async purge(id: number): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('audience_exports').where('property_id', '=', id).execute();
      await tx.deleteFrom('recurring_audience_lists').where('property_id', '=', id).execute();
      await tx.deleteFrom('export_token_usage').where('property_id', '=', id).execute();
      await tx.deleteFrom('user_deletions').where('property_id', '=', id).execute();
      await tx.deleteFrom('properties').where('id', '=', id).execute();
    });
  }

  /** A property, in the trash or not. */
  async find(id: number): Promise<PropertyRow | undefined> {
    return this.db.selectFrom('properties').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Every property by id; trashed ones only with `withDeleted`. */
  async list(withDeleted: boolean): Promise<PropertyRow[]> {
    let q = this.db.selectFrom('properties').selectAll().orderBy('id');
    if (!withDeleted) q = q.where('delete_time', 'is', null);
    return q.execute();
  }

  async updateProperty(id: number, patch: Updateable<PropertiesTable>): Promise<PropertyRow> {
    return this.db
      .updateTable('properties')
      .set(patch)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async insertStream(values: Insertable<DataStreamsTable>): Promise<StreamRow> {
    return this.db.insertInto('data_streams').values(values).returningAll().executeTakeFirstOrThrow();
  }

  async findStream(propertyId: number, streamId: number): Promise<StreamRow | undefined> {
    return this.db
      .selectFrom('data_streams')
      .selectAll()
      .where('id', '=', streamId)
      .where('property_id', '=', propertyId)
      .executeTakeFirst();
  }

  async listStreams(propertyId: number): Promise<StreamRow[]> {
    return this.db
      .selectFrom('data_streams')
      .selectAll()
      .where('property_id', '=', propertyId)
      .orderBy('id')
      .execute();
  }

  async updateStream(id: number, patch: Updateable<DataStreamsTable>): Promise<StreamRow> {
    return this.db
      .updateTable('data_streams')
      .set(patch)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async deleteStream(id: number): Promise<void> {
    await this.db.deleteFrom('data_streams').where('id', '=', id).execute();
  }

  /** For collection: the stream of a measurement id, with its live property's time zone. */
  async streamByMeasurementId(
    measurementId: string,
  ): Promise<{ streamId: number; propertyId: number; timeZone: string } | undefined> {
    return (
      this.db
        .selectFrom('data_streams')
        .innerJoin('properties', 'properties.id', 'data_streams.property_id')
        .select([
          'data_streams.id as streamId',
          'data_streams.property_id as propertyId',
          'properties.time_zone as timeZone',
        ])
        .where('data_streams.measurement_id', '=', measurementId)
        // A trashed property's streams are unknown to collection.
        .where('properties.delete_time', 'is', null)
        .executeTakeFirst()
    );
  }

  async countSecrets(streamId: number): Promise<number> {
    const r = await this.db
      .selectFrom('mp_secrets')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('stream_id', '=', streamId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async insertSecret(values: Insertable<MpSecretsTable>): Promise<SecretRow> {
    return this.db.insertInto('mp_secrets').values(values).returningAll().executeTakeFirstOrThrow();
  }

  async findSecret(propertyId: number, streamId: number, secretId: number): Promise<SecretRow | undefined> {
    return this.db
      .selectFrom('mp_secrets')
      .selectAll()
      .where('id', '=', secretId)
      .where('stream_id', '=', streamId)
      .where('property_id', '=', propertyId)
      .executeTakeFirst();
  }

  async listSecrets(streamId: number): Promise<SecretRow[]> {
    return this.db
      .selectFrom('mp_secrets')
      .selectAll()
      .where('stream_id', '=', streamId)
      .orderBy('id')
      .execute();
  }

  async renameSecret(id: number, displayName: string): Promise<SecretRow> {
    return this.db
      .updateTable('mp_secrets')
      .set({ display_name: displayName })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async deleteSecret(id: number): Promise<void> {
    await this.db.deleteFrom('mp_secrets').where('id', '=', id).execute();
  }

  /** The secret values of a stream (collection checks api_secret against them). */
  async secretValues(streamId: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('mp_secrets')
      .select('secret_value')
      .where('stream_id', '=', streamId)
      .execute();
    return rows.map((r) => r.secret_value);
  }
}
