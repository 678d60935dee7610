// The properties aggregate in the catalog: properties, their web data streams and the streams'
// Measurement Protocol secrets. Every catalog query about them is here; AdminService
// (src/api/service/admin.ts) adds roles, validation and rendering on top, and the trash
// (src/privacy/trash.ts) owns delete_time.

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
