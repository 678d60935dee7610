// Data API v1beta audience exports, transport-free: CreateAudienceExport (a long-running
// operation), GetAudienceExport, ListAudienceExports, QueryAudienceExport, and GetOperation for
// `operations/{id}` (an audex extension, so the official REST client's operation.promise() works).
// Results are proto3 JSON with enum names and RFC 3339 timestamps; the REST layer turns enum names
// into numbers when asked. Request parsing (int64 as strings or numbers, numeric enums, ignored
// output-only fields) happens here so every transport behaves the same. Decisions: docs/exports.md.
//
// The same service serves the Data API v1alpha audience lists (CreateAudienceList, GetAudienceList,
// ListAudienceLists, QueryAudienceList): a list is an export row of kind 'list' (same snapshot,
// job, quotas and expiry), rendered as an AudienceList (percentageCompleted, recurringAudienceList,
// webhookNotification). A list with a webhook gets its notifications through the webhook sink:
// one when it is created (CREATING), one when its job finishes (notifyFinished, ACTIVE or FAILED).

import { readInt64Json } from '../../domain/int64.ts';
import { RawJson } from '../../domain/raw-json.ts';
import { createHash } from 'node:crypto';
import type { CatalogDb } from '../../catalog/db.ts';
import { errors } from '../../domain/errors.ts';
import { parseName, parseProperty } from '../../domain/names.ts';
import { microsToRfc3339 } from '../../domain/time.ts';
import { requireRole, type Principal } from '../../auth/principal.ts';
import { audienceToJson } from '../../audience/validate.ts';
import type { MemberRow, SnapshotStore } from '../../storage/contract.ts';
import type { AudienceService } from './audiences.ts';
import { propertyExists, requireProperty } from './properties.ts';
import { ExportRepo, type ExportKind, type ExportRow } from '../../catalog/repos/exports.ts';
import { PropertyRepository } from '../../catalog/repos/properties.ts';
import { snapshotIdOf, type StoredEvalConfig } from '../../exports/runner.ts';
import { validateWebhook, type NewDelivery, type Webhook } from '../../exports/webhooks.ts';
import { recurringName, type RecurringRow } from '../../exports/recurring.ts';

export const EXPORT_DIMENSIONS = [
  'deviceId',
  'isAdsPersonalizationAllowed',
  'isLimitedAdTracking',
  'userId',
] as const;
export type ExportDimension = (typeof EXPORT_DIMENSIONS)[number];

export const TYPE_AUDIENCE_EXPORT = 'type.googleapis.com/google.analytics.data.v1beta.AudienceExport';
export const TYPE_AUDIENCE_EXPORT_METADATA =
  'type.googleapis.com/google.analytics.data.v1beta.AudienceExportMetadata';
export const TYPE_AUDIENCE_LIST = 'type.googleapis.com/google.analytics.data.v1alpha.AudienceList';
export const TYPE_AUDIENCE_LIST_METADATA =
  'type.googleapis.com/google.analytics.data.v1alpha.AudienceListMetadata';

/** What differs between the two kinds of export rows on the wire. */
interface KindSpec {
  kind: ExportKind;
  /** Collection segment of resource names. */
  collection: 'audienceExports' | 'audienceLists';
  nameKind: 'audienceExport' | 'audienceList';
  /** Request field of the resource in the create request (error messages). */
  bodyField: 'audience_export' | 'audience_list';
  label: string;
  typeResource: string;
  typeMetadata: string;
  /** Field of the resource in QueryXResponse. */
  queryField: 'audienceExport' | 'audienceList';
}

const SPECS: Record<ExportKind, KindSpec> = {
  export: {
    kind: 'export',
    collection: 'audienceExports',
    nameKind: 'audienceExport',
    bodyField: 'audience_export',
    label: 'Audience export',
    typeResource: TYPE_AUDIENCE_EXPORT,
    typeMetadata: TYPE_AUDIENCE_EXPORT_METADATA,
    queryField: 'audienceExport',
  },
  list: {
    kind: 'list',
    collection: 'audienceLists',
    nameKind: 'audienceList',
    bodyField: 'audience_list',
    label: 'Audience list',
    typeResource: TYPE_AUDIENCE_LIST,
    typeMetadata: TYPE_AUDIENCE_LIST_METADATA,
    queryField: 'audienceList',
  },
};

/** Where webhook notifications go (the WebhookOutbox). */
export interface WebhookSink {
  enqueue(n: NewDelivery): Promise<number>;
}

/** The principal the recurring scheduler creates lists as (it acts for the recurring list's creator). */
const SYSTEM: Principal = { keyId: 0, superuser: true, roles: new Map() };

export const QUERY_DEFAULT_LIMIT = 10_000;
export const QUERY_MAX_LIMIT = 250_000;
/** Pages above this many rows wait for the rows file in progress instead of SQL (queryOf). */
const SQL_PAGE_MAX_ROWS = 50_000;
export const LIST_DEFAULT_PAGE_SIZE = 200;
export const LIST_MAX_PAGE_SIZE = 1000;

export interface ExportServiceOptions {
  expiryHours: number;
  maxConcurrentPerProperty: number;
  dailyTokensPerProperty: number;
  /** 'all' = full history before the audience's createTime counts. */
  backfillDays: number | 'all';
  /** µs clock. */
  now?: () => number;
  /** Called after a create, to wake the runner. */
  onCreated?: () => void;
  /** v1alpha webhook notifications; without it webhooks are accepted and echoed but never sent. */
  webhooks?: WebhookSink;
  /** Allow http:// webhook URIs (config.server.allowHttpWebhooks). */
  allowHttpWebhooks?: boolean;
  log?: { error(msg: string, fields?: Record<string, unknown>): void };
  /**
   * How long a GetOperation of a CREATING export waits for its job to finish in this process
   * before answering (0: answer at once). See ExportService.holdWhileCreating.
   */
  holdCreatingMs?: number;
}

/** The value of one export dimension for a member row (docs/exports.md: userId "" when unset). */
export function dimensionValue(row: MemberRow, dim: ExportDimension): string {
  switch (dim) {
    case 'deviceId':
      return row.deviceId;
    case 'userId':
      return row.userId ?? '';
    case 'isAdsPersonalizationAllowed':
      return row.isAdsPersonalizationAllowed;
    case 'isLimitedAdTracking':
      return row.isLimitedAdTracking;
  }
}

/** Parses `dimensions` of a create request: non-empty, known names, no duplicates. */
export function parseDimensions(value: unknown, field = 'audience_export.dimensions'): ExportDimension[] {
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0))
    throw errors.invalidField(field, `is required: give at least one of ${EXPORT_DIMENSIONS.join(', ')}.`);
  if (!Array.isArray(value)) throw errors.invalidField(field, 'must be a list of {"dimensionName": ...}.');
  const out: ExportDimension[] = [];
  value.forEach((d: unknown, i) => {
    const f = `${field}[${i}].dimension_name`;
    const name =
      d !== null && typeof d === 'object'
        ? ((d as Record<string, unknown>).dimensionName ?? (d as Record<string, unknown>).dimension_name)
        : undefined;
    if (typeof name !== 'string' || name === '') throw errors.invalidField(f, 'is required.');
    if (!(EXPORT_DIMENSIONS as readonly string[]).includes(name))
      throw errors.invalidField(
        f,
        `"${name}" is not an audience export dimension; use one of ${EXPORT_DIMENSIONS.join(', ')}.`,
      );
    if (out.includes(name as ExportDimension))
      throw errors.invalidField(f, `"${name}" is requested more than once.`);
    out.push(name as ExportDimension);
  });
  return out;
}

/** A proto3 JSON int64 (string or number) as a bigint; undefined when absent (src/domain/int64.ts). */
export function parseInt64(value: unknown, field: string): bigint | undefined {
  if (value === undefined || value === null) return undefined;
  const r = readInt64Json(value);
  if ('problem' in r) throw errors.invalidField(field, `${r.problem}.`);
  return r.value;
}

/** offset/limit of a query: offset >= 0 (default 0); limit default 10,000, > 250,000 clamped, <= 0 rejected. */
export function parseQueryWindow(body: unknown): { offset: bigint; limit: number } {
  const b = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const offset = parseInt64(b.offset, 'offset') ?? 0n;
  if (offset < 0n) throw errors.invalidField('offset', 'must not be negative.');
  const limit = parseInt64(b.limit, 'limit');
  if (limit !== undefined && limit <= 0n) throw errors.invalidField('limit', 'must be positive.');
  const l =
    limit === undefined
      ? QUERY_DEFAULT_LIMIT
      : limit > BigInt(QUERY_MAX_LIMIT)
        ? QUERY_MAX_LIMIT
        : Number(limit);
  return { offset, limit: l };
}

function fingerprint(binding: string): string {
  return createHash('sha256').update(binding).digest('base64url').slice(0, 12);
}

/**
 * pageSize/pageToken of a List call: pageSize default 200, above 1000 coerced, negative rejected.
 * Keyset tokens ("ids below N", newest first) are bound to `binding` (the collection and parent):
 * items created while a client pages never shift the pages it has not read yet.
 */
export function parsePage(
  req: { pageSize?: unknown; pageToken?: unknown },
  binding: string,
): { size: number; before: number | null; token: (lastId: number) => string } {
  const raw =
    req.pageSize === undefined || req.pageSize === null || req.pageSize === '' ? 0 : Number(req.pageSize);
  if (!Number.isInteger(raw) || raw < 0)
    throw errors.invalidField('page_size', 'must be a non-negative integer.');
  const size = raw === 0 ? LIST_DEFAULT_PAGE_SIZE : Math.min(raw, LIST_MAX_PAGE_SIZE);
  const fp = fingerprint(binding);
  let before: number | null = null;
  if (typeof req.pageToken === 'string' && req.pageToken !== '') {
    const m = /^([A-Za-z0-9_-]{12})\.([0-9]{1,15})$/.exec(
      Buffer.from(req.pageToken, 'base64url').toString('utf8'),
    );
    if (!m || m[1] !== fp)
      throw errors.invalidField(
        'page_token',
        'is not valid for this request (tokens are bound to the parameters of the call that returned them).',
      );
    before = Number(m[2]);
  } else if (req.pageToken !== undefined && req.pageToken !== null && req.pageToken !== '') {
    throw errors.invalidField('page_token', 'must be a string.');
  }
  return { size, before, token: (lastId) => Buffer.from(`${fp}.${lastId}`).toString('base64url') };
}

export class ExportService {
  readonly repo: ExportRepo;
  private readonly now: () => number;

  constructor(
    private readonly db: CatalogDb,
    private readonly audiences: AudienceService,
    private readonly snapshots: SnapshotStore,
    private readonly opts: ExportServiceOptions,
  ) {
    this.repo = new ExportRepo(db, opts);
    this.now = opts.now ?? (() => Date.now() * 1000);
  }

  /** CreateAudienceExport: validates, checks quotas, records the snapshot point, queues the job. */
  async create(p: Principal, parent: string, body: unknown) {
    return operationJson(await this.createRow(SPECS.export, p, parent, body));
  }

  /** CreateAudienceList (v1alpha): CreateAudienceExport plus an optional webhookNotification. */
  async createList(p: Principal, parent: string, body: unknown) {
    return operationJson(await this.createRow(SPECS.list, p, parent, body));
  }

  /**
   * The recurring scheduler's createList: the list of (recurring list, day), made once. A second
   * call for the same pair (a resumed claim) returns the list the first one made.
   */
  async createForRecurring(rec: RecurringRow, day: string): Promise<string> {
    const existing = await this.repo.byRecurringDay(rec.id, day);
    if (existing) return resourceName(existing);
    try {
      const row = await this.createRow(
        SPECS.list,
        SYSTEM,
        `properties/${rec.propertyId}`,
        { audience: rec.audience, dimensions: rec.dimensions.map((dimensionName) => ({ dimensionName })) },
        { recurring: { id: rec.id, day }, webhook: rec.webhook ?? null },
      );
      return resourceName(row);
    } catch (err) {
      // Another instance made it between the lookup and the insert (unique (recurring_id, day)).
      const raced = await this.repo.byRecurringDay(rec.id, day);
      if (raced) return resourceName(raced);
      throw err;
    }
  }

  /**
   * Validates, checks audience/dimensions and quotas, records the snapshot point, queues the job.
   * `internal` is the recurring scheduler's path: the webhook is already validated and copied.
   */
  private async createRow(
    spec: KindSpec,
    p: Principal,
    parent: string,
    body: unknown,
    internal?: { recurring: { id: number; day: string }; webhook: Webhook | null },
  ): Promise<ExportRow> {
    const propertyId = parseProperty(parent, 'parent');
    requireRole(p, propertyId, 'editor');
    const f = spec.bodyField;
    const resourceType = spec.kind === 'list' ? 'AudienceList' : 'AudienceExport';
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      throw errors.invalidField(f, `is required: the request body is the ${resourceType}.`);
    // Only `audience` and `dimensions` (and, for lists, `webhookNotification`) are input; every
    // other field is output-only and ignored. The v1beta AudienceExport has no webhook field.
    const input = body as Record<string, unknown>;
    const [audProperty] = parseName('audience', input.audience, `${f}.audience`);
    if (audProperty !== propertyId)
      throw errors.invalidField(`${f}.audience`, `${String(input.audience)} does not belong to ${parent}.`);
    const dimensions = parseDimensions(input.dimensions, `${f}.dimensions`);
    await requireProperty(this.db, propertyId);
    const webhook =
      internal !== undefined
        ? (internal.webhook ?? undefined)
        : spec.kind === 'list'
          ? validateWebhook(input.webhookNotification ?? input.webhook_notification, {
              allowHttp: this.opts.allowHttpWebhooks ?? false,
              field: `${f}.webhook_notification`,
            })
          : undefined;
    const audience = await this.audiences.forExportRequest(p, input.audience, `${f}.audience`);
    const timeZone = await new PropertyRepository(this.db).timeZone(propertyId);
    // Snapshot point: the high-water ingest_seq first, then the clock, so every event
    // acknowledged before this call is in the snapshot.
    const hwm = await this.snapshots.highWaterMark();
    const now = this.now();
    const evalConfig: StoredEvalConfig = {
      createTimeMicros: audience.createTimeMicros.toString(),
      backfillDays: this.opts.backfillDays === 'all' ? null : this.opts.backfillDays,
      timeZone: timeZone ?? 'UTC',
      ignoreEventNamesForAdjacency: [],
    };
    const row = await this.repo.insert({
      property_id: propertyId,
      audience: audience.name,
      audience_display_name: audience.definition.displayName,
      definition: JSON.stringify(
        audienceToJson(
          audience.definition,
          { name: '', createTime: '', adsPersonalizationEnabled: true },
          false,
        ),
      ),
      eval_config: JSON.stringify(evalConfig),
      dimensions: JSON.stringify(dimensions),
      begin_creating_time: now,
      as_of: now,
      max_ingest_seq: Number(hwm),
      expire_time: now + Math.round(this.opts.expiryHours * 3_600_000_000),
      kind: spec.kind,
      recurring_id: internal?.recurring.id ?? null,
      recurring_day: internal?.recurring.day ?? null,
      webhook: webhook ? JSON.stringify(webhook) : null,
    });
    if (webhook) {
      // Before the job can be claimed (claim() waits for webhook_stage >= 1), so the CREATING
      // notification always precedes the final one.
      try {
        await this.enqueueWebhook(row, webhook);
      } catch (err) {
        this.opts.log?.error('webhook: could not enqueue the CREATING notification', {
          resource: resourceName(row),
          err: String(err),
        });
      }
      await this.repo.setWebhookStage(row.id, 1);
    }
    this.opts.onCreated?.();
    return row;
  }

  private async enqueueWebhook(row: ExportRow, webhook: Webhook): Promise<void> {
    if (!this.opts.webhooks) return;
    await this.opts.webhooks.enqueue({
      resource: resourceName(row),
      uri: webhook.uri,
      ...(webhook.channelToken ? { channelToken: webhook.channelToken } : {}),
      body: resourceJson(row),
    });
  }

  /**
   * The runner's completion hook: answers the GetOperations held for this export, then
   * enqueues the ACTIVE/FAILED notification of a row with a webhook.
   */
  async notifyFinished(id: number): Promise<void> {
    for (const wake of [...(this.finishWaiters.get(id) ?? [])]) wake();
    const row = await this.repo.byId(id);
    if (!row?.webhook || row.state === 'CREATING' || row.webhook_stage >= 2) return;
    await this.enqueueWebhook(row, JSON.parse(row.webhook) as Webhook);
    await this.repo.setWebhookStage(row.id, 2);
  }

  /** Prepares a finished export's JSON pages before the first query asks for them. */
  async warmRows(id: number): Promise<void> {
    const row = await this.repo.byId(id);
    if (!row || row.state !== 'ACTIVE' || !this.snapshots.warmRowsJson) return;
    await this.snapshots.warmRowsJson(snapshotIdOf(row.id), JSON.parse(row.dimensions) as ExportDimension[]);
  }

  /**
   * At start: enqueues the notifications a crash left behind (between a create or a job's end and
   * the enqueue). At least once: a crash right after an enqueue may send that notification twice.
   */
  async resumeWebhooks(): Promise<number> {
    let n = 0;
    for (;;) {
      const rows = await this.repo.webhooksBehind();
      for (const row of rows) {
        const webhook = JSON.parse(row.webhook!) as Webhook;
        await this.enqueueWebhook(row, webhook);
        await this.repo.setWebhookStage(row.id, row.state === 'CREATING' ? 1 : 2);
        n++;
      }
      if (rows.length < 100) return n;
    }
  }

  async get(p: Principal, name: string) {
    return exportJson(await this.row(SPECS.export, p, name, 'name'));
  }

  async getList(p: Principal, name: string) {
    return listJson(await this.row(SPECS.list, p, name, 'name'));
  }

  private readonly finishWaiters = new Map<number, Set<() => void>>();

  /**
   * A long poll for GetOperation: an operation whose export is CREATING waits up to
   * holdCreatingMs for the job to finish and then answers with the state of that moment, read
   * again. Clients poll an operation with growing pauses (the official client: ~0.13, 0.3, 0.5,
   * 0.8, 1.2 s…), so without it a job that ends just after a poll is seen only at the next one;
   * with it, a poll that arrives while the job runs answers as soon as it ends. The answer is
   * never stale: it is the row as read after the wait. Only jobs that finish in this process wake
   * it early (others are seen when the hold runs out). GetAudienceExport answers at once, so a
   * caller polling it sees percentageCompleted move.
   */
  private async holdWhileCreating(row: ExportRow, reread: () => Promise<ExportRow>): Promise<ExportRow> {
    const ms = this.opts.holdCreatingMs ?? 0;
    if (row.state !== 'CREATING' || ms <= 0) return row;
    await new Promise<void>((resolve) => {
      let waiters = this.finishWaiters.get(row.id);
      if (!waiters) this.finishWaiters.set(row.id, (waiters = new Set()));
      const set = waiters;
      const wake = (): void => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0 && this.finishWaiters.get(row.id) === set) this.finishWaiters.delete(row.id);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      set.add(wake);
    });
    return reread();
  }

  async list(p: Principal, parent: string, req: { pageSize?: unknown; pageToken?: unknown }) {
    const r = await this.listRows(SPECS.export, p, parent, req);
    return { audienceExports: r.rows.map(exportJson), ...r.next };
  }

  async listLists(p: Principal, parent: string, req: { pageSize?: unknown; pageToken?: unknown }) {
    const r = await this.listRows(SPECS.list, p, parent, req);
    return { audienceLists: r.rows.map(listJson), ...r.next };
  }

  private async listRows(
    spec: KindSpec,
    p: Principal,
    parent: string,
    req: { pageSize?: unknown; pageToken?: unknown },
  ) {
    const propertyId = parseProperty(parent, 'parent');
    requireRole(p, propertyId, 'viewer');
    const { size, before, token } = parsePage(req, `${spec.collection}|${parent}`);
    await requireProperty(this.db, propertyId);
    const rows = await this.repo.list(propertyId, this.now(), before, size + 1, spec.kind);
    const page = rows.slice(0, size);
    const last = page[page.length - 1];
    return { rows: page, next: rows.length > size && last ? { nextPageToken: token(last.id) } : {} };
  }

  async query(p: Principal, name: string, body: unknown) {
    return this.queryOf(SPECS.export, p, name, body);
  }

  async queryList(p: Principal, name: string, body: unknown) {
    return this.queryOf(SPECS.list, p, name, body);
  }

  private async queryOf(spec: KindSpec, p: Principal, name: string, body: unknown) {
    const row = await this.row(spec, p, name, 'name');
    const { offset, limit } = parseQueryWindow(body);
    if (row.state === 'CREATING')
      throw errors.failedPrecondition(
        `${name} is still being created (${Math.floor(row.percentage_completed)}% done); query it once its state is ACTIVE.`,
      );
    if (row.state === 'FAILED')
      throw errors.failedPrecondition(
        `${name} failed and has no rows: ${row.error_message ?? 'unknown error'}`,
      );
    const total = row.row_count ?? 0;
    const dims = JSON.parse(row.dimensions) as ExportDimension[];
    const past = offset >= BigInt(total);
    const id = snapshotIdOf(row.id);
    // The engine serves pages as pre-rendered JSON when it can (text or bytes that the REST
    // transport writes as they are; see src/domain/raw-json.ts and docs/exports.md). While the
    // rows file is being rendered (right after ACTIVE), a page waits for it when it is a third or
    // more of the snapshot: per row, rendering one page by SQL costs ~3x the whole-file render
    // (bench/exports.bench.ts), so a smaller page is cheaper by SQL than the wait. A large page
    // waits too: rendered by SQL it is one string of tens of MB in DuckDB, copied into JS, beside
    // the render's own memory (test/memory-rss.e2e.test.ts: the first 250,000-row pages raised the
    // server's peak RSS by 70 MiB and more); its SQL rendering would take about as long as the wait.
    const waitForRender = limit * 3 >= total || limit > SQL_PAGE_MAX_ROWS;
    const audienceRows = this.snapshots.readRowsJson
      ? past
        ? new RawJson('[]')
        : await this.snapshots.readRowsJson(id, Number(offset), limit, dims, { waitForRender })
      : (past ? [] : await this.snapshots.read(id, Number(offset), limit)).map((m) => ({
          dimensionValues: dims.map((d) => ({ value: dimensionValue(m, d) })),
        }));
    return { [spec.queryField]: resourceJson(row), audienceRows, rowCount: total };
  }

  /**
   * google.longrunning.Operations/GetOperation (audex extension) for
   * `operations/properties/{p}/operations/{id}` (operationName) and the older `operations/{id}`,
   * which operations created before the longer names keep answering to.
   */
  async getOperation(p: Principal, name: string) {
    const m = parseOperationName(name);
    if (!m) throw errors.notFound(`Operation ${name} not found.`);
    const row = await this.repo.byOperation(m[1]!, this.now());
    if (row && m.property !== null && m.property !== row.property_id)
      throw errors.notFound(`Operation ${name} not found.`);
    // Unknown, expired, and other properties' operations all look the same: NOT_FOUND leaks
    // nothing about a property the caller cannot see (the id is random, so it cannot be probed).
    if (!row || !canView(p, row.property_id) || !(await propertyExists(this.db, row.property_id)))
      throw errors.notFound(`Operation ${name} not found.`);
    return operationJson(
      await this.holdWhileCreating(row, async () => {
        const again = await this.repo.byOperation(m[1]!, this.now());
        if (!again || !(await propertyExists(this.db, again.property_id)))
          throw errors.notFound(`Operation ${name} not found.`);
        return again;
      }),
    );
  }

  private async row(spec: KindSpec, p: Principal, name: unknown, field: string): Promise<ExportRow> {
    const [propertyId, id] = parseName(spec.nameKind, name, field);
    requireRole(p, propertyId!, 'viewer');
    await requireProperty(this.db, propertyId!);
    const row = await this.repo.get(propertyId!, id!, this.now(), spec.kind);
    if (!row) throw errors.notFound(`${spec.label} ${String(name)} not found.`);
    return row;
  }
}

function canView(p: Principal, propertyId: number): boolean {
  try {
    requireRole(p, propertyId, 'viewer');
    return true;
  } catch {
    return false;
  }
}

export function exportName(row: ExportRow): string {
  return `properties/${row.property_id}/audienceExports/${row.id}`;
}

/** `properties/{p}/audienceExports/{id}` or `properties/{p}/audienceLists/{id}`, by kind. */
export function resourceName(row: ExportRow): string {
  return `properties/${row.property_id}/${SPECS[row.kind].collection}/${row.id}`;
}

/** The row as its resource: an AudienceExport or an AudienceList. */
export function resourceJson(row: ExportRow): Record<string, unknown> {
  return row.kind === 'list' ? listJson(row) : exportJson(row);
}

/**
 * The v1alpha AudienceList: the AudienceExport fields (percentageCompleted is field 11 there),
 * plus recurringAudienceList when a recurring list made it and the webhookNotification echoed.
 */
export function listJson(row: ExportRow): Record<string, unknown> {
  return {
    ...exportJson(row),
    ...(row.recurring_id !== null
      ? { recurringAudienceList: recurringName(row.property_id, row.recurring_id) }
      : {}),
    ...(row.webhook !== null ? { webhookNotification: JSON.parse(row.webhook) as Webhook } : {}),
  };
}

/** The AudienceExport resource, proto3 JSON (optional fields present when set, even to 0). */
export function exportJson(row: ExportRow): Record<string, unknown> {
  const dims = JSON.parse(row.dimensions) as string[];
  return {
    name: resourceName(row),
    audience: row.audience,
    audienceDisplayName: row.audience_display_name,
    dimensions: dims.map((dimensionName) => ({ dimensionName })),
    state: row.state,
    beginCreatingTime: microsToRfc3339(row.begin_creating_time),
    ...(row.quota_tokens_charged !== 0 ? { creationQuotaTokensCharged: row.quota_tokens_charged } : {}),
    ...(row.state === 'ACTIVE' && row.row_count !== null ? { rowCount: row.row_count } : {}),
    ...(row.state === 'FAILED' && row.error_message !== null ? { errorMessage: row.error_message } : {}),
    percentageCompleted: row.state === 'ACTIVE' ? 100 : row.percentage_completed,
  };
}

// The name of an export's creation operation: `operations/properties/{p}/operations/{id}`. It
// begins with `operations/` for the Node REST client's route `GET /v1/{name=operations/**}` and
// ends with `/operations/{id}` for the Python clients' `GET /v1beta/{name=**/operations/*}`.
export function operationName(row: Pick<ExportRow, 'property_id' | 'operation_id'>): string {
  return `operations/properties/${row.property_id}/operations/${row.operation_id}`;
}

/** [, operation id] and the property the name claims (null for the older `operations/{id}`). */
function parseOperationName(name: unknown): (string[] & { property: number | null }) | null {
  if (typeof name !== 'string') return null;
  const id = '((?:audienceExport|audienceList)-[A-Za-z0-9_-]{1,64})';
  const long = new RegExp(`^operations/properties/(\\d{1,18})/operations/${id}$`).exec(name);
  if (long) return Object.assign([long[0], long[2]!], { property: Number(long[1]) });
  const short = new RegExp(`^operations/${id}$`).exec(name);
  return short ? Object.assign([short[0], short[1]!], { property: null }) : null;
}

/** The google.longrunning.Operation of an export's creation. */
export function operationJson(row: ExportRow): Record<string, unknown> {
  const spec = SPECS[row.kind];
  const base = {
    name: operationName(row),
    metadata: { '@type': spec.typeMetadata },
    done: row.state !== 'CREATING',
  };
  if (row.state === 'FAILED') {
    const quota = /quota|tokens/i.test(row.error_message ?? '');
    return {
      ...base,
      error: { code: quota ? 8 : 13, message: row.error_message ?? `${spec.label} creation failed.` },
    };
  }
  return { ...base, response: { '@type': spec.typeResource, ...resourceJson(row) } };
}
