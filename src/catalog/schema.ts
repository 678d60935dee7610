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
  /** In the trash since (µs); null = live. Migration 006. */
  delete_time: number | null;
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

export interface AudienceExportsTable {
  id: Generated<number>;
  property_id: number;
  operation_id: string;
  audience: string;
  audience_display_name: string;
  definition: string;
  eval_config: string;
  dimensions: string;
  state: 'CREATING' | 'ACTIVE' | 'FAILED';
  begin_creating_time: number;
  as_of: number;
  max_ingest_seq: number;
  expire_time: number;
  percentage_completed: Generated<number>;
  quota_tokens_charged: Generated<number>;
  row_count: number | null;
  error_message: string | null;
  finish_time: number | null;
  attempts: Generated<number>;
  lease_owner: string | null;
  lease_expires: number | null;
  /** 'export' (v1beta AudienceExport) | 'list' (v1alpha AudienceList); migration 005. */
  kind: Generated<'export' | 'list'>;
  /** The recurring audience list (id) and property day that made this list, else null. */
  recurring_id: number | null;
  recurring_day: string | null;
  /** The WebhookNotification JSON `{uri, channelToken?}`, else null. */
  webhook: string | null;
  /** Webhook notifications enqueued: 0 none, 1 CREATING, 2 the final one. */
  webhook_stage: Generated<number>;
}

export interface ExportTokenUsageTable {
  property_id: number;
  day: string;
  tokens: number;
}

export interface WebhookDeliveriesTable {
  id: Generated<number>;
  resource: string;
  uri: string;
  channel_token: string | null;
  body: string;
  state: 'PENDING' | 'DELIVERED' | 'FAILED';
  attempts: Generated<number>;
  create_time: number;
  next_attempt_time: number;
  last_attempt_time: number | null;
  last_error: string | null;
  delivered_time: number | null;
  lease_owner: string | null;
  lease_expires: number | null;
}

export interface RecurringAudienceListsTable {
  id: Generated<number>;
  property_id: number;
  audience: string;
  audience_display_name: string;
  dimensions: string;
  /** activeDaysRemaining at creation; the current value is derived from recurring_list_days. */
  active_days: number;
  webhook: string | null;
  time_zone: string;
  create_time: number;
  exhausted: Generated<number>;
}

export interface RecurringListDaysTable {
  recurring_id: number;
  day: string;
  state: 'CLAIMED' | 'DONE' | 'FAILED';
  list_name: string | null;
  attempts: Generated<number>;
  claim_time: number;
  done_time: number | null;
  last_error: string | null;
  next_attempt_time: number | null;
  lease_owner: string | null;
  lease_expires: number | null;
}

/** A property's DataRetentionSettings (migration 006); absent = GA4's defaults. */
export interface DataRetentionSettingsTable {
  property_id: number;
  event_data_retention: string;
  user_data_retention: string;
  reset_user_data_on_new_activity: number;
  update_time: number;
}

/** The journal of acknowledged SubmitUserDeletion requests (migration 006). */
export interface UserDeletionsTable {
  id: Generated<number>;
  property_id: number;
  kind: 'user_id' | 'client_id' | 'app_instance_id';
  /** The id to delete; null once done (only subject_hash stays). */
  subject: string | null;
  subject_hash: string;
  request_time: number;
  state: 'PENDING' | 'DONE';
  attempts: Generated<number>;
  done_time: number | null;
  events_deleted: number | null;
  last_error: string | null;
}

export interface CatalogSchema {
  data_retention_settings: DataRetentionSettingsTable;
  user_deletions: UserDeletionsTable;
  audience_exports: AudienceExportsTable;
  export_token_usage: ExportTokenUsageTable;
  audiences: AudiencesTable;
  webhook_deliveries: WebhookDeliveriesTable;
  recurring_audience_lists: RecurringAudienceListsTable;
  recurring_list_days: RecurringListDaysTable;
  properties: PropertiesTable;
  data_streams: DataStreamsTable;
  mp_secrets: MpSecretsTable;
  api_keys: ApiKeysTable;
  api_key_bindings: ApiKeyBindingsTable;
}
