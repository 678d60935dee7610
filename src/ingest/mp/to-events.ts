// ParsedEvent → NewEvent. Used by the Measurement Protocol and gtag paths.

import { paramNumber, type NewEvent, type UserPropertyValue } from '../../domain/event.ts';
import {
  continentName,
  countryName,
  eventDate,
  setOwn,
  subcontinentName,
  type ParsedEvent,
} from '../common.ts';

export interface ToEventsContext {
  propertyId: bigint;
  streamId: string;
  /** IANA zone of the property, for event_date. */
  timeZone: string;
  /** Server time, µs: becomes received_at. */
  nowMicros: bigint;
}

/** One parsed event as a storable event (ga_session_number stays null until the sessionizer runs). */
export function toEvent(p: ParsedEvent, ctx: ToEventsContext): NewEvent {
  const userProperties: Record<string, UserPropertyValue> = {};
  for (const name of Object.keys(p.userProperties)) {
    const up = p.userProperties[name]!;
    setOwn(userProperties, name, {
      value: up.value,
      set_timestamp_micros: up.timestampMicros ?? p.timestampMicros,
    });
  }
  const params = p.params;
  const value = Object.prototype.hasOwnProperty.call(params, 'value') ? paramNumber(params['value']) : null;
  const txn = Object.prototype.hasOwnProperty.call(params, 'transaction_id')
    ? params['transaction_id']
    : undefined;
  const loc = p.location;
  const dev = p.device;
  return {
    property_id: ctx.propertyId,
    stream_id: ctx.streamId,
    platform: p.platform,
    event_name: p.name,
    event_timestamp: p.timestampMicros,
    event_date: eventDate(p.timestampMicros, ctx.timeZone),
    received_at: ctx.nowMicros,
    source: p.source,
    user_pseudo_id: p.clientId,
    user_id: p.userId,
    ga_session_id: p.sessionId,
    ga_session_number: p.sessionNumber,
    event_params: params,
    user_properties: userProperties,
    device_category: dev?.category ?? null,
    device_operating_system: dev?.operatingSystem ?? null,
    device_operating_system_version: dev?.operatingSystemVersion ?? null,
    device_browser: dev?.browser ?? null,
    device_browser_version: dev?.browserVersion ?? null,
    device_language: dev?.language ?? null,
    device_mobile_brand_name: dev?.brand ?? null,
    device_mobile_model_name: dev?.model ?? null,
    device_is_limited_ad_tracking: null,
    geo_continent: loc?.continentId ? continentName(loc.continentId) : null,
    geo_sub_continent: loc?.subcontinentId ? subcontinentName(loc.subcontinentId) : null,
    geo_country: loc?.countryId ? countryName(loc.countryId) : null,
    geo_country_id: loc?.countryId ?? null,
    // No ISO 3166-2 name table: the region is stored as its code (e.g. "US-CA").
    geo_region: loc?.regionId ?? null,
    geo_city: loc?.city ?? null,
    traffic_source_source: null,
    traffic_source_medium: null,
    traffic_source_name: null,
    ecommerce_transaction_id: txn ? (paramStringOf(txn) ?? null) : null,
    ecommerce_purchase_revenue: p.name === 'purchase' ? value : null,
    ecommerce_refund_value: p.name === 'refund' ? value : null,
    items: p.items,
    consent_ad_user_data: p.consent.adUserData,
    consent_ad_personalization: p.consent.adPersonalization,
    non_personalized_ads: p.nonPersonalizedAds,
  };
}

function paramStringOf(v: NonNullable<ParsedEvent['params'][string]>): string | null {
  if ('string_value' in v) return v.string_value === '' ? null : v.string_value;
  if ('int_value' in v) return v.int_value.toString();
  return Number.isFinite(v.double_value) ? String(v.double_value) : null;
}

/** Every parsed event of a measurement as storable events, in request order. */
export function toEvents(events: readonly ParsedEvent[], ctx: ToEventsContext): NewEvent[] {
  return events.map((p) => toEvent(p, ctx));
}
