// Enum numbers of the protos audex serves, keyed by the JSON field that carries them. With
// `$alt=json;enum-encoding=int` (what the official REST clients always ask for) responses carry
// numbers; otherwise names. Inputs accept both.

import { RawJson } from '../../domain/raw-json.ts';

const RETENTION_DURATION = {
  RETENTION_DURATION_UNSPECIFIED: 0,
  TWO_MONTHS: 1,
  FOURTEEN_MONTHS: 3,
  TWENTY_SIX_MONTHS: 4,
  THIRTY_EIGHT_MONTHS: 5,
  FIFTY_MONTHS: 6,
};

const ENUMS: Record<string, Record<string, number>> = {
  state: { STATE_UNSPECIFIED: 0, CREATING: 1, ACTIVE: 2, FAILED: 3 },
  clauseType: { AUDIENCE_CLAUSE_TYPE_UNSPECIFIED: 0, INCLUDE: 1, EXCLUDE: 2 },
  scope: {
    AUDIENCE_FILTER_SCOPE_UNSPECIFIED: 0,
    AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT: 1,
    AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION: 2,
    AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS: 3,
  },
  matchType: {
    MATCH_TYPE_UNSPECIFIED: 0,
    EXACT: 1,
    BEGINS_WITH: 2,
    ENDS_WITH: 3,
    CONTAINS: 4,
    FULL_REGEXP: 5,
  },
  operation: { OPERATION_UNSPECIFIED: 0, EQUAL: 1, LESS_THAN: 2, GREATER_THAN: 4 },
  logCondition: { LOG_CONDITION_UNSPECIFIED: 0, AUDIENCE_JOINED: 1, AUDIENCE_MEMBERSHIP_RENEWED: 2 },
  exclusionDurationMode: {
    AUDIENCE_EXCLUSION_DURATION_MODE_UNSPECIFIED: 0,
    EXCLUDE_TEMPORARILY: 1,
    EXCLUDE_PERMANENTLY: 2,
  },
  type: {
    DATA_STREAM_TYPE_UNSPECIFIED: 0,
    WEB_DATA_STREAM: 1,
    ANDROID_APP_DATA_STREAM: 2,
    IOS_APP_DATA_STREAM: 3,
  },
  propertyType: {
    PROPERTY_TYPE_UNSPECIFIED: 0,
    PROPERTY_TYPE_ORDINARY: 1,
    PROPERTY_TYPE_SUBPROPERTY: 2,
    PROPERTY_TYPE_ROLLUP: 3,
  },
  serviceLevel: { SERVICE_LEVEL_UNSPECIFIED: 0, GOOGLE_ANALYTICS_STANDARD: 1, GOOGLE_ANALYTICS_360: 2 },
  // DataRetentionSettings (src/privacy/retention.ts).
  eventDataRetention: RETENTION_DURATION,
  userDataRetention: RETENTION_DURATION,
  industryCategory: {
    INDUSTRY_CATEGORY_UNSPECIFIED: 0,
    AUTOMOTIVE: 1,
    BUSINESS_AND_INDUSTRIAL_MARKETS: 2,
    FINANCE: 3,
    HEALTHCARE: 4,
    TECHNOLOGY: 5,
    TRAVEL: 6,
    OTHER: 7,
    ARTS_AND_ENTERTAINMENT: 8,
    BEAUTY_AND_FITNESS: 9,
    BOOKS_AND_LITERATURE: 10,
    FOOD_AND_DRINK: 11,
    GAMES: 12,
    HOBBIES_AND_LEISURE: 13,
    HOME_AND_GARDEN: 14,
    INTERNET_AND_TELECOM: 15,
    LAW_AND_GOVERNMENT: 16,
    NEWS: 17,
    ONLINE_COMMUNITIES: 18,
    PEOPLE_AND_SOCIETY: 19,
    PETS_AND_ANIMALS: 20,
    REAL_ESTATE: 21,
    REFERENCE: 22,
    SCIENCE: 23,
    SPORTS: 24,
    JOBS_AND_EDUCATION: 25,
    SHOPPING: 26,
  },
};

/** Rewrites enum names to numbers, in place, everywhere in a response object. */
export function numericEnums(value: unknown): unknown {
  if (value instanceof RawJson) return value; // pre-rendered rows carry no enums
  if (Array.isArray(value)) {
    for (const v of value) numericEnums(v);
  } else if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    for (const [k, v] of Object.entries(obj)) {
      const table = ENUMS[k];
      if (table && typeof v === 'string' && v in table) obj[k] = table[v];
      else if (typeof v === 'object') numericEnums(v);
    }
  }
  return value;
}

/** An enum input given as a name or a number, as its name; undefined when unknown. */
export function enumName(field: string, value: unknown): string | undefined {
  const table = ENUMS[field];
  if (!table) return undefined;
  if (typeof value === 'string') return value in table ? value : undefined;
  if (typeof value === 'number') return Object.keys(table).find((k) => table[k] === value);
  return undefined;
}
