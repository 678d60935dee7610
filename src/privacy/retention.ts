// DataRetentionSettings (Admin API v1beta and v1alpha): how long a property keeps its events.
//
// Values are GA4's RetentionDuration enum. eventDataRetention may be any of TWO_MONTHS,
// FOURTEEN_MONTHS, TWENTY_SIX_MONTHS, THIRTY_EIGHT_MONTHS, FIFTY_MONTHS (GA4 reserves the last
// three for Analytics 360; audex has no tiers). userDataRetention is TWO_MONTHS or
// FOURTEEN_MONTHS (GA4: the longer values are "for event data only").
//
// A property whose settings were never updated keeps everything, and says so by answering
// RETENTION_DURATION_UNSPECIFIED for both durations: applying GA4's 2-month default to data folders
// that existed before retention did would delete history nobody asked to delete.
//
// Enforcement (the lifecycle job, src/privacy/lifecycle-job.ts; docs/privacy.md):
// - events whose event_timestamp is older than now − eventDataRetention are deleted;
// - userDataRetention with resetUserDataOnNewActivity (GA4's default): every event of a device
//   whose newest event is older than now − userDataRetention is deleted (activity resets the
//   clock); without reset: events older than now − userDataRetention are deleted.
// Months are calendar months in UTC.

import { errors } from '../domain/errors.ts';
import { nowMicros } from '../domain/time.ts';
import { requireRole, type Principal } from '../auth/principal.ts';
import type { CatalogDb } from '../catalog/db.ts';
import { RetentionSettingsRepository } from '../catalog/repos/retention.ts';
import { requireProperty } from '../api/service/properties.ts';
import { parseUpdateMask } from '../api/service/admin.ts';

export const RETENTION_MONTHS: Record<string, number> = {
  TWO_MONTHS: 2,
  FOURTEEN_MONTHS: 14,
  TWENTY_SIX_MONTHS: 26,
  THIRTY_EIGHT_MONTHS: 38,
  FIFTY_MONTHS: 50,
};
/** Numeric values of the enum, for clients that send `enum-encoding=int`. */
const BY_NUMBER: Record<number, string> = {
  0: 'RETENTION_DURATION_UNSPECIFIED',
  1: 'TWO_MONTHS',
  3: 'FOURTEEN_MONTHS',
  4: 'TWENTY_SIX_MONTHS',
  5: 'THIRTY_EIGHT_MONTHS',
  6: 'FIFTY_MONTHS',
};
const USER_VALUES = ['TWO_MONTHS', 'FOURTEEN_MONTHS'];

export interface RetentionSettings {
  propertyId: number;
  /** null: never set, nothing is enforced. */
  eventMonths: number | null;
  userMonths: number | null;
  resetOnNewActivity: boolean;
}

function settingsName(name: unknown, field: string): number {
  const m =
    typeof name === 'string' ? /^properties\/([1-9][0-9]{0,17})\/dataRetentionSettings$/.exec(name) : null;
  if (!m)
    throw errors.invalidField(
      field,
      `must be a resource name of the form properties/{id}/dataRetentionSettings (got ${JSON.stringify(name)}).`,
    );
  return Number(m[1]);
}

function durationName(v: unknown, field: string, allowed: string[]): string {
  const name = typeof v === 'number' ? BY_NUMBER[v] : v;
  if (typeof name !== 'string' || !allowed.includes(name))
    throw errors.invalidField(field, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)}).`);
  return name;
}

/** Settings of every property that has them (for the lifecycle job). */
export async function allRetentionSettings(db: CatalogDb): Promise<RetentionSettings[]> {
  const rows = await new RetentionSettingsRepository(db).allLive();
  return rows.map((r) => ({
    propertyId: r.property_id,
    eventMonths: RETENTION_MONTHS[r.event_data_retention] ?? null,
    userMonths: RETENTION_MONTHS[r.user_data_retention] ?? null,
    resetOnNewActivity: r.reset_user_data_on_new_activity === 1,
  }));
}

/** `micros` minus `months` calendar months (UTC). */
export function monthsBefore(micros: number, months: number): number {
  const d = new Date(Math.floor(micros / 1000));
  d.setUTCMonth(d.getUTCMonth() - months);
  return d.getTime() * 1000 + (micros % 1000);
}

export class RetentionSettingsService {
  private readonly repo: RetentionSettingsRepository;

  constructor(
    private readonly db: CatalogDb,
    private readonly now: () => number = () => Number(nowMicros()),
  ) {
    this.repo = new RetentionSettingsRepository(db);
  }

  async get(p: Principal, name: unknown) {
    const propertyId = settingsName(name, 'name');
    requireRole(p, propertyId, 'viewer');
    await requireProperty(this.db, propertyId);
    return this.json(propertyId);
  }

  async update(p: Principal, body: unknown, updateMask: unknown) {
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      throw errors.invalidField('data_retention_settings', 'is required.');
    const input = body as Record<string, unknown>;
    const propertyId = settingsName(input.name, 'data_retention_settings.name');
    requireRole(p, propertyId, 'editor');
    await requireProperty(this.db, propertyId);
    const paths = parseUpdateMask(updateMask, [
      'event_data_retention',
      'user_data_retention',
      'reset_user_data_on_new_activity',
    ]);
    const current = await this.row(propertyId);
    const next = {
      event_data_retention: current?.event_data_retention ?? 'TWO_MONTHS',
      user_data_retention: current?.user_data_retention ?? 'FOURTEEN_MONTHS',
      reset_user_data_on_new_activity: current?.reset_user_data_on_new_activity ?? 1,
    };
    if (paths.includes('event_data_retention'))
      next.event_data_retention = durationName(
        input.eventDataRetention,
        'data_retention_settings.event_data_retention',
        Object.keys(RETENTION_MONTHS),
      );
    if (paths.includes('user_data_retention'))
      next.user_data_retention = durationName(
        input.userDataRetention,
        'data_retention_settings.user_data_retention',
        USER_VALUES,
      );
    if (paths.includes('reset_user_data_on_new_activity')) {
      const v = input.resetUserDataOnNewActivity ?? false;
      if (typeof v !== 'boolean')
        throw errors.invalidField(
          'data_retention_settings.reset_user_data_on_new_activity',
          'must be a boolean.',
        );
      next.reset_user_data_on_new_activity = v ? 1 : 0;
    }
    // The first update of a property that had none fixes both durations: a half-set policy
    // would leave one duration unspecified, and that means "keep everything".
    if (!current && !(paths.includes('event_data_retention') && paths.includes('user_data_retention')))
      throw errors.invalidField(
        'update_mask',
        "the first update of a property's data retention settings must set event_data_retention and user_data_retention.",
      );
    await this.repo.upsert(propertyId, next, this.now());
    return this.json(propertyId);
  }

  private row(propertyId: number) {
    return this.repo.find(propertyId);
  }

  private async json(propertyId: number) {
    const r = await this.row(propertyId);
    return {
      name: `properties/${propertyId}/dataRetentionSettings`,
      eventDataRetention: r?.event_data_retention ?? 'RETENTION_DURATION_UNSPECIFIED',
      userDataRetention: r?.user_data_retention ?? 'RETENTION_DURATION_UNSPECIFIED',
      resetUserDataOnNewActivity: r ? r.reset_user_data_on_new_activity === 1 : true,
    };
  }
}
