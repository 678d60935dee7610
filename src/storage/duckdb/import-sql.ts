// Bulk import of GA4 BigQuery-export rows (Parquet or NDJSON) with one INSERT … SELECT.
//
// The source's schema is read first (import/source.ts) and the SELECT list is built from what
// the file has: a missing column or struct field becomes NULL instead of a bind error, so a
// trimmed export (no ecommerce, no privacy_info…) still loads. The SQL is built with the project's
// fragment builder (import/fragments.ts says how constants and inputs reach the text); the file
// path, the property and its time zone are bound. Modules: import/source.ts (the file's columns),
// import/values.ts (typed readers and messages), import/key-values.ts (event_params,
// user_properties, item_params), this file (the mapping, field by field).
//
// The mapping is the one of src/ingest/import/bigquery-row.ts (the NDJSON path), rule for rule
// and message for message; src/ingest/import/README.md lists the rules and
// test/import-mappings.duckdb.test.ts checks that both paths store the same bytes. In short:
// - Values are read by their Parquet type: a string field accepts text and numbers (numbers
//   printed as JavaScript prints them), an INT64 field integers and digit strings, a number field
//   numbers and decimal strings (plus "NaN"/"Infinity"/"-Infinity"); anything else rejects the row
//   with `<field path>: expected …, got <value>`. The first problem in a fixed field order is the
//   reason (same order as bigquery-row.ts). A check that the file's type makes impossible (a
//   VARCHAR column is always a string) is not written at all.
// - event_params / user_properties -> our compact JSON ({"s":…}|{"i":…}|{"d":…}); the first
//   non-null arm of string_value, int_value, double_value, float_value wins (only that arm is
//   checked); a param whose arms are all NULL is dropped; a repeated key keeps its first value.
//   Doubles are printed as JavaScript prints them (2, 2.5, 1e+21); non-finite ones as null.
// - ga_session_id / ga_session_number come from event_params (int arm, digit string or integral
//   double) and are removed from the stored params. No sessionisation: a row without
//   ga_session_id is stored without one, as in BigQuery.
// - user_properties' set_timestamp_micros defaults to the row's event_timestamp.
// - event_date: the row's event_date (8 digits); missing -> the date of event_timestamp in the
//   property's time zone (ICU `timezone`), as GA defines it.
// - platform: WEB/ANDROID/IOS in any case, stored upper-case; missing -> WEB; other -> rejected.
// - consent: our own `consent{ad_user_data, ad_personalization, non_personalized_ads}` struct
//   wins where set; else privacy_info.ads_storage "No" -> both consent columns DENIED (as gtag's
//   denied ad_storage); "Yes"/"Unset" -> not set.
// - items: the MP shape: known BigQuery item fields in BigQuery's order (strings as strings,
//   numeric ones as numbers, non-finite dropped), item_params as {key: {string_value} |
//   {int_value: number} | {double_value}}; unknown item fields are dropped.
// - ingest_seq = base + row number in the file, so a file's rows keep file order; rejected rows
//   leave gaps.
// - NDJSON: read with a fixed schema of text leaves (extra keys ignored), so JSON types are not
//   seen (a number where a string belongs is accepted). A line that is not JSON fails the whole
//   import (read_json has no per-line error report); src/ingest/import/ has the JS parser with
//   per-line errors and exact JSON types, which the API uses.

import { ident, join, param, sql, type Fragment } from '../../audience/compile/sql.ts';
import { EVENT_COLUMNS } from '../../domain/event.ts';
import { ITEM_FIELDS, MAX_EVENT_TIMESTAMP } from '../../ingest/import/bigquery-fields.ts';
import { EVENTS_TABLE } from './schema.ts';
import { NONE, bind, jsNumber, orOf, quoted, statement, type Node } from './import/fragments.ts';
import type { ImportSource } from './import/source.ts';
import {
  ABSENT,
  child,
  containerProblem,
  containerProblemAt,
  elementOf,
  gotText,
  lit,
  node,
  notNull,
  problem,
  readInt,
  readNumber,
  readString,
  readYesNo,
  shown,
} from './import/values.ts';
import {
  compactValue,
  distinctKeys,
  firstError,
  firstOf,
  indexed,
  itemParamValue,
  objectOf,
  prepareKv,
  sessionValue,
} from './import/key-values.ts';

export { describeSource, type ImportFormat, type ImportSource, type TypeTree } from './import/source.ts';

export interface ImportSql {
  /** $1 path -> one row {total}. */
  countSql: string;
  /** $1 path, $2 limit -> rows {row, reason}. */
  examplesSql: string;
  /**
   * The stored rows of the accepted ones, columns named and ordered as EVENT_COLUMNS; $1 path,
   * $2 property_id, $3 first ingest_seq, $4 received_at µs, $5 time zone.
   */
  selectSql: string;
  /** INSERT INTO events … selectSql (same parameters). */
  insertSql: string;
}

/** The first non-NULL of the terms (the ones that are always NULL dropped). */
function firstNonNull(terms: Fragment[]): Fragment {
  return sql`coalesce(${join(
    terms.filter((t) => t !== NONE),
    ',\n',
  )})`;
}

export function buildImportSql(source: ImportSource): ImportSql {
  const col = (name: string): Node => {
    const t = source.columns.get(name);
    return t ? node(quoted(name), t) : ABSENT;
  };
  /** Problems in check order; the first non-NULL one is the row's reason. */
  const checks: Fragment[] = [];
  const str = (n: Node, path: string, strict = false): Fragment => {
    const r = readString(n, strict);
    checks.push(problem(r.bad, lit(path), 'expected a string', r.got));
    return r.v;
  };

  // Required fields.
  const upid = readString(col('user_pseudo_id'));
  checks.push(
    sql`CASE WHEN ${upid.bad} THEN 'user_pseudo_id: expected a string, got ' || ${shown(upid.got)} WHEN coalesce(${upid.v}, '') = '' THEN 'missing user_pseudo_id' END`,
  );
  const ename = readString(col('event_name'));
  checks.push(
    sql`CASE WHEN ${ename.bad} THEN 'event_name: expected a string, got ' || ${shown(ename.got)} WHEN coalesce(${ename.v}, '') = '' THEN 'missing event_name' END`,
  );
  const ets = readInt(col('event_timestamp'));
  checks.push(
    sql`CASE WHEN ${notNull(col('event_timestamp'))} IS NOT TRUE THEN 'missing or non-numeric event_timestamp' WHEN ${ets.bad} THEN 'event_timestamp: expected an integer, got ' || ${shown(ets.got)} WHEN ${ets.v} < 0 OR ${ets.v} > ${param(MAX_EVENT_TIMESTAMP)} THEN 'event_timestamp: out of range, got ' || ${shown(ets.got)} END`,
  );

  const eventDate = readString(col('event_date'));
  checks.push(
    sql`CASE WHEN ${eventDate.bad} OR length(${eventDate.v}) <> 8 OR ltrim(${eventDate.v}, '0123456789') <> '' THEN 'event_date: expected YYYYMMDD, got ' || ${shown(eventDate.got)} END`,
  );
  const platform = readString(col('platform'));
  checks.push(
    sql`CASE WHEN ${platform.bad} OR upper(${platform.v}) NOT IN ('WEB', 'ANDROID', 'IOS') THEN 'platform: expected WEB, ANDROID or IOS, got ' || ${shown(platform.got)} END`,
  );
  const streamId = str(col('stream_id'), 'stream_id');
  const userId = str(col('user_id'), 'user_id');

  // event_params
  const ep = col('event_params');
  checks.push(containerProblem(ep, 'event_params', 'list'));
  const epPath = (idx: Fragment, suffix = ''): Fragment => indexed('event_params', idx, suffix);
  const params = prepareKv(ep, [sql`p`, sql`i`], epPath, (a, ctx) => {
    const sv = sessionValue(a);
    // Only entries with a value are checked; sv is evaluated once on the valid path.
    const extraErr = sql`CASE WHEN NOT ${orOf(a.present)} THEN NULL WHEN ${ctx.key} = 'ga_session_id' THEN CASE WHEN ${sv} IS NULL THEN ${ctx.path()} || ': ga_session_id must be an integer' END WHEN ${ctx.key} = 'ga_session_number' THEN CASE WHEN ${sv} BETWEEN 0 AND 2147483647 THEN NULL WHEN ${sv} IS NULL THEN ${ctx.path()} || ': ga_session_number must be an integer' ELSE ${ctx.path()} || ': ga_session_number out of range' END END`;
    return {
      enc: compactValue(a),
      extraErr,
      extraGuard: sql`${ctx.key} IN ('ga_session_id', 'ga_session_number')`,
      extra: { sid: sv },
    };
  });
  if (params) {
    // Fast path: distinct non-NULL keys (so no NULL entry and one entry per session key), valid
    // session values, and arms of types that cannot fail: nothing to report. Else every entry
    // is checked in order.
    checks.push(
      params.valueCanFail
        ? firstError(params)
        : sql`CASE WHEN __pd AND __sid IS NOT NULL AND __sn BETWEEN 0 AND 2147483647 THEN NULL ELSE ${firstError(params)} END`,
    );
  }

  // user_properties
  const up = col('user_properties');
  checks.push(containerProblem(up, 'user_properties', 'list'));
  const upPath = (idx: Fragment, suffix = ''): Fragment => indexed('user_properties', idx, suffix);
  const userProps = prepareKv(up, [sql`u`, sql`ui`], upPath, (a, ctx) => {
    const t = readInt(child(child(ctx.entry, 'value'), 'set_timestamp_micros'));
    return {
      enc: sql`'{' || (${compactValue(a)}) || ',"t":' || CAST(coalesce(${t.v}, __ets) AS VARCHAR) || '}'`,
      extraErr: sql`CASE WHEN ${a.which} IS NOT NULL THEN ${problem(t.bad, ctx.path('.value.set_timestamp_micros'), 'expected an integer', t.got)} END`,
      extraGuard: t.bad,
    };
  });
  if (userProps) checks.push(firstError(userProps));

  // device, geo, traffic_source, ecommerce
  const device = col('device');
  checks.push(containerProblem(device, 'device', 'struct'));
  const devStr = (f: string): Fragment => str(child(device, f), `device.${f}`);
  const deviceCategory = devStr('category');
  const brand = devStr('mobile_brand_name');
  const model = devStr('mobile_model_name');
  const os = devStr('operating_system');
  const osVersion = devStr('operating_system_version');
  const language = devStr('language');
  const latRead = readYesNo(child(device, 'is_limited_ad_tracking'));
  checks.push(
    problem(latRead.bad, lit('device.is_limited_ad_tracking'), 'expected "Yes" or "No"', latRead.got),
  );
  const browser = devStr('browser');
  const browserVersion = devStr('browser_version');
  const webInfo = child(device, 'web_info');
  checks.push(containerProblem(webInfo, 'device.web_info', 'struct'));
  const wiBrowser = str(child(webInfo, 'browser'), 'device.web_info.browser');
  const wiBrowserVersion = str(child(webInfo, 'browser_version'), 'device.web_info.browser_version');

  const geo = col('geo');
  checks.push(containerProblem(geo, 'geo', 'struct'));
  const geoStr = (f: string): Fragment => str(child(geo, f), `geo.${f}`);
  const geoCols = {
    geo_continent: geoStr('continent'),
    geo_sub_continent: geoStr('sub_continent'),
    geo_country: geoStr('country'),
    geo_country_id: geoStr('country_id'),
    geo_region: geoStr('region'),
    geo_city: geoStr('city'),
  };
  const traffic = col('traffic_source');
  checks.push(containerProblem(traffic, 'traffic_source', 'struct'));
  const tsName = str(child(traffic, 'name'), 'traffic_source.name');
  const tsMedium = str(child(traffic, 'medium'), 'traffic_source.medium');
  const tsSource = str(child(traffic, 'source'), 'traffic_source.source');
  const ecommerce = col('ecommerce');
  checks.push(containerProblem(ecommerce, 'ecommerce', 'struct'));
  const txn = str(child(ecommerce, 'transaction_id'), 'ecommerce.transaction_id');
  const num = (n: Node, path: string): Fragment => {
    const r = readNumber(n);
    checks.push(problem(r.bad, lit(path), 'expected a number', r.got));
    return sql`CASE WHEN isfinite(${r.v}) THEN ${r.v} END`;
  };
  const revenue = num(child(ecommerce, 'purchase_revenue'), 'ecommerce.purchase_revenue');
  const refund = num(child(ecommerce, 'refund_value'), 'ecommerce.refund_value');

  // items
  const items = col('items');
  checks.push(containerProblem(items, 'items', 'list'));
  let itemsJson: Fragment | null = null;
  if (items.tree?.kind === 'list') {
    const q = sql`q`;
    const j = sql`j`;
    const item = elementOf(items, q);
    const itemPath = (suffix: string): Fragment => indexed('items', j, suffix);
    const encs: Fragment[] = [];
    const errs: Fragment[] = [
      sql`CASE WHEN ${q} IS NULL THEN ${itemPath('')} || ': expected an object, got null' END`,
    ];
    if (item.tree && item.tree.kind !== 'struct') errs.push(containerProblemAt(item, itemPath('')));
    for (const f of ITEM_FIELDS) {
      const n = child(item, f.name);
      if (!n.tree) continue;
      if (f.kind === 'string') {
        const r = readString(n);
        errs.push(problem(r.bad, itemPath(`.${f.name}`), 'expected a string', r.got));
        encs.push(sql`CASE WHEN ${r.v} IS NOT NULL THEN ${lit(`"${f.name}":`)} || to_json(${r.v}) END`);
      } else {
        const r = readNumber(n);
        errs.push(problem(r.bad, itemPath(`.${f.name}`), 'expected a number', r.got));
        encs.push(sql`CASE WHEN isfinite(${r.v}) THEN ${lit(`"${f.name}":`)} || ${jsNumber(r.v)} END`);
      }
    }
    const ipNode = child(item, 'item_params');
    if (ipNode.tree) {
      errs.push(
        ipNode.tree.kind === 'list'
          ? NONE
          : problem(notNull(ipNode), itemPath('.item_params'), 'expected an array', gotText(ipNode)),
      );
      const ip = prepareKv(
        ipNode,
        [sql`r`, sql`ri`],
        (idx, suffix = '') =>
          sql`${itemPath('.item_params')} || ${lit('[')} || CAST(${idx} - 1 AS VARCHAR) || ${lit(']' + suffix)}`,
        (a) => ({ enc: itemParamValue(a) }),
      );
      if (ip) {
        encs.push(
          bind(
            objectOf(ip, (e) => sql`'{' || ${e} || '}'`),
            'io',
            (o) => sql`CASE WHEN ${o} <> '{}' THEN '"item_params":' || ${o} END`,
          ),
        );
        errs.push(firstError(ip));
      }
    }
    const json = sql`'{' || array_to_string(list_filter([${encs.length ? join(encs, ', ') : sql`NULL::VARCHAR`}], x -> x IS NOT NULL), ',') || '}'`;
    itemsJson = sql`CASE WHEN len(${items.sql}) > 0 THEN '[' || array_to_string(list_transform(${items.sql}, ${q} -> ${json}), ',') || ']' END`;
    checks.push(
      sql`list_any_value(list_transform(${items.sql}, (${q}, ${j}) -> coalesce(${join(
        errs.filter((e) => e !== NONE),
        ', ',
      )})))`,
    );
  }

  // consent
  const privacy = col('privacy_info');
  checks.push(containerProblem(privacy, 'privacy_info', 'struct'));
  const ads = readYesNo(child(privacy, 'ads_storage'));
  checks.push(problem(ads.bad, lit('privacy_info.ads_storage'), 'expected "Yes", "No" or "Unset"', ads.got));
  const consent = col('consent');
  checks.push(containerProblem(consent, 'consent', 'struct'));
  const consentValue = (f: string): Fragment => {
    const r = readString(child(consent, f));
    checks.push(
      sql`CASE WHEN ${r.bad} OR upper(${r.v}) NOT IN ('GRANTED', 'DENIED') THEN ${lit(`consent.${f}: expected GRANTED or DENIED, got `)} || ${shown(r.got)} END`,
    );
    return sql`upper(${r.v})`;
  };
  const cAdUserData = consentValue('ad_user_data');
  const cAdPers = consentValue('ad_personalization');
  const npaRead = readYesNo(child(consent, 'non_personalized_ads'));
  checks.push(problem(npaRead.bad, lit('consent.non_personalized_ads'), 'expected a boolean', npaRead.got));
  const adsDenied = sql`CASE WHEN ${ads.v} = false THEN 'DENIED' END`;

  const zoneDate = sql`strftime(timezone($5::VARCHAR, timezone('UTC', make_timestamp(__ets))), '%Y%m%d')`;

  const select: Record<(typeof EVENT_COLUMNS)[number][0], Fragment> = {
    property_id: sql`$2::BIGINT`,
    stream_id: sql`coalesce(${streamId}, '')`,
    platform: sql`coalesce(upper(${platform.v}), 'WEB')`,
    ingest_seq: sql`$3::BIGINT + __row`,
    event_name: ename.v,
    event_timestamp: sql`__ets`,
    event_date: sql`coalesce(${eventDate.v}, ${zoneDate})`,
    received_at: sql`$4::BIGINT`,
    source: sql`'import'`,
    user_pseudo_id: upid.v,
    user_id: sql`nullif(${userId}, '')`,
    ga_session_id: params ? sql`__sid` : sql`NULL::BIGINT`,
    ga_session_number: params ? sql`CAST(__sn AS INTEGER)` : sql`NULL::INTEGER`,
    event_params: params
      ? objectOf(params, (e) => sql`'{' || ${e} || '}'`, ['ga_session_id', 'ga_session_number'], sql`__pd`)
      : sql`'{}'`,
    user_properties: userProps ? objectOf(userProps, (e) => e) : sql`'{}'`,
    device_category: deviceCategory,
    device_operating_system: os,
    device_operating_system_version: osVersion,
    device_browser: sql`coalesce(${wiBrowser}, ${browser})`,
    device_browser_version: sql`coalesce(${wiBrowserVersion}, ${browserVersion})`,
    device_language: language,
    device_mobile_brand_name: brand,
    device_mobile_model_name: model,
    device_is_limited_ad_tracking: latRead.v,
    ...geoCols,
    traffic_source_source: tsSource,
    traffic_source_medium: tsMedium,
    traffic_source_name: tsName,
    ecommerce_transaction_id: txn,
    ecommerce_purchase_revenue: revenue,
    ecommerce_refund_value: refund,
    items: itemsJson ? sql`coalesce(${itemsJson}, '[]')` : sql`'[]'`,
    consent_ad_user_data: sql`coalesce(${cAdUserData}, ${adsDenied})`,
    consent_ad_personalization: sql`coalesce(${cAdPers}, ${adsDenied})`,
    non_personalized_ads: npaRead.v,
  };
  const names = EVENT_COLUMNS.map(([n]) => n);
  const reason = firstNonNull(checks);
  // Stage 1: values used by several columns and checks (event_timestamp, the session params,
  // whether event_params' keys are distinct); stage 2: the reason of a rejection.
  const perRow = [sql`${ets.v} AS __ets`];
  if (params) {
    perRow.push(
      sql`${distinctKeys(params)} AS __pd`,
      sql`${firstOf(params, 'ga_session_id', 'sid')} AS __sid`,
      sql`${firstOf(params, 'ga_session_number', 'sid')} AS __sn`,
    );
  }
  const withTs = sql`SELECT *, ${join(perRow, ', ')} FROM ${source.from}`;
  const staged = sql`SELECT *, ${reason} AS __reason FROM (${withTs})`;
  const countSql = sql`SELECT count(*) AS total FROM ${source.from}`;
  const examplesSql = sql`SELECT __row AS row, __reason AS reason FROM (${staged}) WHERE __reason IS NOT NULL ORDER BY __row LIMIT $2`;
  const selectSql = sql`SELECT ${join(
    names.map((n) => sql`${select[n]} AS ${quoted(n)}`),
    ',\n',
  )}
FROM (${staged}) WHERE __reason IS NULL`;
  const insertSql = sql`INSERT INTO ${ident(EVENTS_TABLE)} (${join(names.map(quoted), ', ')})
${selectSql}`;
  return {
    countSql: statement(countSql),
    examplesSql: statement(examplesSql),
    selectSql: statement(selectSql),
    insertSql: statement(insertSql),
  };
}
