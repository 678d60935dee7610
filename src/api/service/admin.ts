// Admin API (v1beta and v1alpha share these shapes): the default account, properties, web data
// streams and Measurement Protocol secrets. Transport-free: requests are proto3 JSON objects,
// results are proto3 JSON objects with enum names (the REST layer renders numbers on request).

import { randomBytes } from 'node:crypto';
import type { CatalogDb } from '../../catalog/db.ts';
import {
  PropertyRepository,
  type PropertyRow,
  type SecretRow,
  type StreamRow,
} from '../../catalog/repos/properties.ts';
import { errors } from '../../domain/errors.ts';
import { parseName, parseProperty } from '../../domain/names.ts';
import { microsToRfc3339, nowMicros } from '../../domain/time.ts';
import { requireRole, requireSuperuser, visibleProperties, type Principal } from '../../auth/principal.ts';
import type { KeyService } from '../../auth/keys.ts';
import { enumName } from '../rest/enums.ts';
import { pageOf, parsePage, type PageRequest } from './paging.ts';
import { parsePropertyListFilter } from '../../privacy/list-filter.ts';
import { requireProperty } from './properties.ts';
import { restoreProperty, trashExpireTime, trashProperty } from '../../privacy/trash.ts';

export const DEFAULT_ACCOUNT_ID = 1;
const ACCOUNT_CREATE_TIME = 1_704_067_200_000_000; // 2024-01-01: fixed, the account is implicit

const TIME_ZONES = new Set(Intl.supportedValuesOf('timeZone').concat(['UTC', 'Etc/UTC', 'GMT']));
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

export function accountJson() {
  return {
    name: `accounts/${DEFAULT_ACCOUNT_ID}`,
    createTime: microsToRfc3339(ACCOUNT_CREATE_TIME),
    updateTime: microsToRfc3339(ACCOUNT_CREATE_TIME),
    displayName: 'Default account',
    regionCode: 'US',
  };
}

export function propertyJson(p: PropertyRow) {
  return {
    name: `properties/${p.id}`,
    propertyType: 'PROPERTY_TYPE_ORDINARY',
    createTime: microsToRfc3339(p.create_time),
    updateTime: microsToRfc3339(p.update_time),
    parent: `accounts/${p.account_id}`,
    displayName: p.display_name,
    ...(p.industry_category !== 'INDUSTRY_CATEGORY_UNSPECIFIED'
      ? { industryCategory: p.industry_category }
      : {}),
    timeZone: p.time_zone,
    currencyCode: p.currency_code,
    serviceLevel: 'GOOGLE_ANALYTICS_STANDARD',
    account: `accounts/${p.account_id}`,
    ...(p.delete_time !== null
      ? {
          deleteTime: microsToRfc3339(p.delete_time),
          expireTime: microsToRfc3339(trashExpireTime(p.delete_time)),
        }
      : {}),
  };
}

function streamJson(s: StreamRow) {
  return {
    name: `properties/${s.property_id}/dataStreams/${s.id}`,
    type: s.type,
    displayName: s.display_name,
    createTime: microsToRfc3339(s.create_time),
    updateTime: microsToRfc3339(s.update_time),
    webStreamData: {
      measurementId: s.measurement_id,
      ...(s.default_uri ? { defaultUri: s.default_uri } : {}),
    },
  };
}

function secretJson(s: SecretRow) {
  return {
    name: `properties/${s.property_id}/dataStreams/${s.stream_id}/measurementProtocolSecrets/${s.id}`,
    displayName: s.display_name,
    secretValue: s.secret_value,
  };
}

function asObject(body: unknown, field: string): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw errors.invalidField(field, 'must be a JSON object.');
  }
  return body as Record<string, unknown>;
}

function displayName(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string' || v.trim() === '') throw errors.invalidField(field, 'is required.');
  if (v.length > max) throw errors.invalidField(field, `must be at most ${max} characters.`);
  return v;
}

function timeZone(v: unknown): string {
  if (typeof v !== 'string' || v === '')
    throw errors.invalidField(
      'property.time_zone',
      'is required (an IANA time zone such as "Europe/Berlin").',
    );
  if (!TIME_ZONES.has(v)) throw errors.invalidField('property.time_zone', `"${v}" is not an IANA time zone.`);
  return v;
}

function currency(v: unknown): string {
  if (v === undefined || v === '') return 'USD';
  if (typeof v !== 'string' || !CURRENCIES.has(v))
    throw errors.invalidField('property.currency_code', 'must be an ISO 4217 currency code such as "USD".');
  return v;
}

function industry(v: unknown): string {
  if (v === undefined || v === null || v === 0 || v === '') return 'INDUSTRY_CATEGORY_UNSPECIFIED';
  const name = enumName('industryCategory', v);
  if (!name) throw errors.invalidField('property.industry_category', `unknown value ${JSON.stringify(v)}.`);
  return name;
}

/** updateMask as a list of snake_case paths; required. */
export function parseUpdateMask(mask: unknown, allowed: string[], field = 'update_mask'): string[] {
  if (typeof mask !== 'string' || mask.trim() === '') throw errors.invalidField(field, 'is required.');
  const paths = mask.split(',').map((p) => p.trim().replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  for (const p of paths) {
    if (p === '*') return allowed;
    if (!allowed.includes(p))
      throw errors.invalidField(field, `path "${p}" cannot be updated; updatable: ${allowed.join(', ')}.`);
  }
  return paths;
}

function measurementId(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';
  const bytes = randomBytes(10);
  return 'G-' + [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

export class AdminService {
  /**
   * Bumped after every change that collection's stream cache depends on (streams, secrets, a
   * property's deletion or time zone). Readers compare it to drop their cached lookups at once.
   */
  private collectionVersionValue = 0;

  get collectionVersion(): number {
    return this.collectionVersionValue;
  }

  /** Called after the catalog write: a lookup that started earlier sees the bump and is not kept. */
  private collectionChanged(): void {
    this.collectionVersionValue++;
  }

  constructor(
    private readonly db: CatalogDb,
    private readonly keys: KeyService,
    /** Called after a property is created (built-in audiences, for one). */
    private readonly onPropertyCreated: (propertyId: number) => Promise<void> = async () => {},
  ) {
    this.repo = new PropertyRepository(db);
  }

  private readonly repo: PropertyRepository;

  // Accounts: audex has one implicit account that holds every property.
  getAccount(_p: Principal, name: string) {
    const [id] = parseName('account', name, 'name');
    if (id !== DEFAULT_ACCOUNT_ID) throw errors.notFound(`Account ${name} not found.`);
    return accountJson();
  }

  listAccounts(_p: Principal) {
    return { accounts: [accountJson()] };
  }

  async createProperty(p: Principal, body: unknown) {
    requireSuperuser(p);
    const input = asObject(body, 'property');
    const parent = input.parent ?? `accounts/${DEFAULT_ACCOUNT_ID}`;
    const [accountId] = parseName('account', parent, 'property.parent');
    if (accountId !== DEFAULT_ACCOUNT_ID)
      throw errors.notFound(`Account ${JSON.stringify(parent)} not found.`);
    const now = Number(nowMicros());
    const row = await this.repo.insertProperty({
      account_id: DEFAULT_ACCOUNT_ID,
      display_name: displayName(input.displayName, 'property.display_name', 100),
      time_zone: timeZone(input.timeZone),
      currency_code: currency(input.currencyCode),
      industry_category: industry(input.industryCategory),
      create_time: now,
      update_time: now,
    });
    this.keys.invalidate();
    await this.onPropertyCreated(row.id);
    return propertyJson(row);
  }

  /** The property row, after checking the caller's role on it. */
  async property(
    p: Principal,
    name: unknown,
    field: string,
    role: 'viewer' | 'editor' | 'admin',
  ): Promise<PropertyRow> {
    const id = parseProperty(name, field);
    requireRole(p, id, role);
    // A trashed property is gone for every read until it is restored (src/privacy/trash.ts).
    const row = await this.repo.findLive(id);
    if (!row) throw errors.notFound(`Property properties/${id} not found.`);
    return row;
  }

  async getProperty(p: Principal, name: string) {
    return propertyJson(await this.property(p, name, 'name', 'viewer'));
  }

  async listProperties(p: Principal, req: PageRequest & { filter?: unknown; showDeleted?: unknown }) {
    const parsed = parsePropertyListFilter(req.filter);
    const filter = String(req.filter).trim();
    if (parsed.kind === 'none' || parsed.accountId !== DEFAULT_ACCOUNT_ID) return {};
    const showDeleted = req.showDeleted === true || req.showDeleted === 'true';
    const visible = visibleProperties(p);
    let rows = await this.repo.list(showDeleted);
    if (visible !== 'all') rows = rows.filter((r) => visible.has(r.id));
    const page = pageOf(
      rows,
      parsePage(req, { defaultSize: 50, maxSize: 200, binding: `properties|${filter}|${showDeleted}` }),
    );
    return {
      properties: page.items.map(propertyJson),
      ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    };
  }

  async updateProperty(p: Principal, name: string, body: unknown, updateMask: unknown) {
    const row = await this.property(p, name, 'property.name', 'admin');
    const input = asObject(body, 'property');
    const paths = parseUpdateMask(updateMask, [
      'display_name',
      'time_zone',
      'currency_code',
      'industry_category',
    ]);
    const patch: Partial<PropertyRow> = { update_time: Number(nowMicros()) };
    if (paths.includes('display_name'))
      patch.display_name = displayName(input.displayName, 'property.display_name', 100);
    if (paths.includes('time_zone')) patch.time_zone = timeZone(input.timeZone);
    if (paths.includes('currency_code')) patch.currency_code = currency(input.currencyCode);
    if (paths.includes('industry_category')) patch.industry_category = industry(input.industryCategory);
    const updated = await this.repo.updateProperty(row.id, patch);
    this.collectionChanged();
    return propertyJson(updated);
  }

  /**
   * Moves the property to the trash, as GA4 does: NOT_FOUND to reads, no collection, restorable
   * by the operator for 35 days, then purged with all its data (src/privacy/trash.ts).
   */
  async deleteProperty(p: Principal, name: string) {
    const row = await this.property(p, name, 'name', 'admin');
    const now = Number(nowMicros());
    if (!(await trashProperty(this.db, row.id, now)))
      throw errors.notFound(`Property properties/${row.id} not found.`);
    this.collectionChanged();
    return propertyJson({ ...row, delete_time: now, update_time: now });
  }

  /** Operator only: takes a trashed property out of the trash before it expires. */
  async restoreProperty(p: Principal, name: string) {
    requireSuperuser(p);
    const id = parseProperty(name, 'name');
    const now = Number(nowMicros());
    if (!(await restoreProperty(this.db, id, now)))
      throw errors.notFound(`Property properties/${id} is not in the trash (or its 35 days are over).`);
    this.collectionChanged();
    const row = await this.repo.find(id);
    if (!row) throw errors.notFound(`Property properties/${id} not found.`);
    return propertyJson(row);
  }

  async createDataStream(p: Principal, parent: string, body: unknown) {
    const prop = await this.property(p, parent, 'parent', 'admin');
    const input = asObject(body, 'data_stream');
    const type = enumName('type', input.type ?? 'WEB_DATA_STREAM');
    if (type !== 'WEB_DATA_STREAM') {
      throw errors.invalidField('data_stream.type', 'audex supports WEB_DATA_STREAM streams only.');
    }
    const web = (input.webStreamData ?? {}) as Record<string, unknown>;
    const defaultUri = typeof web.defaultUri === 'string' ? web.defaultUri : '';
    if (defaultUri.length > 2048)
      throw errors.invalidField('data_stream.web_stream_data.default_uri', 'is too long.');
    const now = Number(nowMicros());
    const row = await this.repo.insertStream({
      property_id: prop.id,
      type,
      display_name: displayName(input.displayName, 'data_stream.display_name', 255),
      measurement_id: measurementId(),
      default_uri: defaultUri,
      create_time: now,
      update_time: now,
    });
    this.collectionChanged();
    return streamJson(row);
  }

  private async stream(
    p: Principal,
    name: unknown,
    field: string,
    role: 'viewer' | 'admin',
  ): Promise<StreamRow> {
    const [propertyId, streamId] = parseName('dataStream', name, field);
    requireRole(p, propertyId!, role);
    await requireProperty(this.db, propertyId!); // NOT_FOUND in the trash too
    const row = await this.repo.findStream(propertyId!, streamId!);
    if (!row) throw errors.notFound(`Data stream ${String(name)} not found.`);
    return row;
  }

  async getDataStream(p: Principal, name: string) {
    return streamJson(await this.stream(p, name, 'name', 'viewer'));
  }

  async listDataStreams(p: Principal, parent: string, req: PageRequest) {
    const prop = await this.property(p, parent, 'parent', 'viewer');
    const rows = await this.repo.listStreams(prop.id);
    const page = pageOf(
      rows,
      parsePage(req, { defaultSize: 50, maxSize: 200, binding: `streams|${parent}` }),
    );
    return {
      dataStreams: page.items.map(streamJson),
      ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    };
  }

  async updateDataStream(p: Principal, name: string, body: unknown, updateMask: unknown) {
    const row = await this.stream(p, name, 'data_stream.name', 'admin');
    const input = asObject(body, 'data_stream');
    const paths = parseUpdateMask(updateMask, ['display_name']);
    const updated = await this.repo.updateStream(row.id, {
      update_time: Number(nowMicros()),
      ...(paths.includes('display_name')
        ? { display_name: displayName(input.displayName, 'data_stream.display_name', 255) }
        : {}),
    });
    return streamJson(updated);
  }

  async deleteDataStream(p: Principal, name: string) {
    const row = await this.stream(p, name, 'name', 'admin');
    await this.repo.deleteStream(row.id);
    this.collectionChanged();
    return {};
  }

  async createSecret(p: Principal, parent: string, body: unknown) {
    const stream = await this.stream(p, parent, 'parent', 'admin');
    const input = asObject(body, 'measurement_protocol_secret');
    if ((await this.repo.countSecrets(stream.id)) >= 10) {
      throw errors.failedPrecondition('A data stream can have at most 10 measurement protocol secrets.');
    }
    const row = await this.repo.insertSecret({
      property_id: stream.property_id,
      stream_id: stream.id,
      display_name: displayName(input.displayName, 'measurement_protocol_secret.display_name', 100),
      secret_value: randomBytes(16).toString('base64url'),
      create_time: Number(nowMicros()),
    });
    this.collectionChanged();
    return secretJson(row);
  }

  private async secret(
    p: Principal,
    name: unknown,
    field: string,
    role: 'viewer' | 'admin',
  ): Promise<SecretRow> {
    const [propertyId, streamId, secretId] = parseName('mpSecret', name, field);
    requireRole(p, propertyId!, role);
    await requireProperty(this.db, propertyId!); // NOT_FOUND in the trash too
    const row = await this.repo.findSecret(propertyId!, streamId!, secretId!);
    if (!row) throw errors.notFound(`Measurement protocol secret ${String(name)} not found.`);
    return row;
  }

  async getSecret(p: Principal, name: string) {
    return secretJson(await this.secret(p, name, 'name', 'admin'));
  }

  async listSecrets(p: Principal, parent: string, req: PageRequest) {
    const stream = await this.stream(p, parent, 'parent', 'admin');
    const rows = await this.repo.listSecrets(stream.id);
    const page = pageOf(rows, parsePage(req, { defaultSize: 10, maxSize: 10, binding: `secrets|${parent}` }));
    return {
      measurementProtocolSecrets: page.items.map(secretJson),
      ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    };
  }

  async updateSecret(p: Principal, name: string, body: unknown, updateMask: unknown) {
    const row = await this.secret(p, name, 'measurement_protocol_secret.name', 'admin');
    const input = asObject(body, 'measurement_protocol_secret');
    parseUpdateMask(updateMask, ['display_name']);
    const updated = await this.repo.renameSecret(
      row.id,
      displayName(input.displayName, 'measurement_protocol_secret.display_name', 100),
    );
    return secretJson(updated);
  }

  async deleteSecret(p: Principal, name: string) {
    const row = await this.secret(p, name, 'name', 'admin');
    await this.repo.deleteSecret(row.id);
    this.collectionChanged();
    return {};
  }

  /** For collection: the stream a measurement id belongs to, with its property's time zone. */
  async streamByMeasurementId(measurementId: string) {
    return this.repo.streamByMeasurementId(measurementId);
  }

  async secretValues(streamId: number): Promise<string[]> {
    return this.repo.secretValues(streamId);
  }
}
