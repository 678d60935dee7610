// Table types of the catalog (metadata). Timestamps are µs since epoch stored as integers
// (SQLite INTEGER / PostgreSQL BIGINT); booleans are 0/1.

import type { Generated } from 'kysely';

export interface PropertiesTable {
  id: Generated<number>;
  account_id: number;
  display_name: string;
  time_zone: string;
  currency_code: string;
  industry_category: string;
  create_time: number;
  update_time: number;
}

export interface DataStreamsTable {
  id: Generated<number>;
  property_id: number;
  type: string;
  display_name: string;
  measurement_id: string;
  default_uri: string;
  create_time: number;
  update_time: number;
}

export interface MpSecretsTable {
  id: Generated<number>;
  property_id: number;
  stream_id: number;
  display_name: string;
  secret_value: string;
  create_time: number;
}

export interface ApiKeysTable {
  id: Generated<number>;
  /** sha256 of the key, hex. The key itself is never stored. */
  key_hash: string;
  /** First characters of the key, for people to tell keys apart. */
  key_prefix: string;
  display_name: string;
  /** 1 for the operator's key: admin on every property. */
  superuser: number;
  create_time: number;
  revoke_time: number | null;
}

export interface ApiKeyBindingsTable {
  key_id: number;
  property_id: number;
  role: 'viewer' | 'editor' | 'admin';
}

export interface AudiencesTable {
  id: Generated<number>;
  property_id: number;
  display_name: string;
  definition: string;
  /** 'all_users' | 'purchasers' for the built-in audiences, else null. */
  builtin: string | null;
  archived: Generated<number>;
  create_time: number;
}

export interface CatalogSchema {
  audiences: AudiencesTable;
  properties: PropertiesTable;
  data_streams: DataStreamsTable;
  mp_secrets: MpSecretsTable;
  api_keys: ApiKeysTable;
  api_key_bindings: ApiKeyBindingsTable;
}
