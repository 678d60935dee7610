// v1alpha webhook notifications (docs/exports.md): validation of `WebhookNotification` and a
// persistent outbox that POSTs the long-running resource to the receiver.
//
// Delivery rules (decided here; docs next to the code):
// - A delivery row is committed in the catalog before enqueue() returns, so a restart never loses
//   a pending notification. Delivery is at-least-once: a process that dies after the receiver got
//   the POST but before it recorded the 2xx sends it again (receivers can spot replays by
//   `sentTimestamp`).
// - Body: the resource JSON as enqueued plus `sentTimestamp`, µs since the epoch as a JSON string
//   (int64 style), taken at each attempt. Headers: `Content-Type: application/json` and
//   `X-Goog-Channel-Token` when the webhook has a channel token. Redirects are not followed (a 3xx
//   counts as a failure), so a receiver cannot bounce the POST to another host or to plain HTTP.
// - Success is a 2xx status received within `timeoutMs` (5 s, as Google asks of receivers).
//   Anything else (other status, timeout, network error) is retried after a delay drawn with
//   full jitter from [0, min(maxDelayMs, baseDelayMs * 2^(attempts-1))]. The delivery is marked
//   FAILED (logged with its last error, visible through status()) when an attempt fails at or after
//   create time + `giveUpAfterMs`, or after `maxAttempts` attempts. The last retry is scheduled at
//   the deadline at the latest, and every delivery gets at least one attempt.
// - Claiming is one UPDATE ... WHERE id IN (SELECT ...) statement that sets a lease in the catalog,
//   so two processes sharing the catalog never send the same attempt concurrently; a lease that
//   lapses (the owner died) makes the delivery claimable again. The attempt counter is bumped at
//   claim time, so an attempt cut short by a crash still counts.
// - Order: deliveries of one resource to one receiver URI are sent in enqueue order: a delivery is
//   not claimed while an earlier delivery of the same (resource, uri) is PENDING (queued, backing
//   off or in flight). A FAILED earlier delivery no longer blocks the later ones. (Ordering is per
//   receiver so that one dead receiver does not hold back another receiver of the same resource;
//   with the one webhook an AudienceList has, this is per resource.)

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Updateable } from 'kysely';
import type { CatalogDb } from '../catalog/db.ts';
import type { WebhookDeliveriesTable } from '../catalog/schema.ts';
import { WebhookDeliveryRepository, type DeliveryRow } from '../catalog/repos/webhooks.ts';
import { errors } from '../domain/errors.ts';
import { microsToRfc3339, type Clock } from '../domain/time.ts';

// ---------------------------------------------------------------------------------------------
// Validation

export interface Webhook {
  uri: string;
  channelToken?: string;
}

export const WEBHOOK_URI_MAX = 128;
export const WEBHOOK_TOKEN_MAX = 64;

/**
 * The characters RFC 1738 allows in a URL: alphanumerics, the "safe" `$-_.+`, the "extra"
 * `!*'(),`, the "reserved" `;/?:@=&`, and `%` as the start of a %XX escape. Everything else
 * (`~`, `#`, `[`, `]`, spaces, non-ASCII, ...) is refused.
 */
const RFC1738 = /^[A-Za-z0-9$\-_.+!*'(),;/?:@=&%]*$/;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/**
 * Validates a proto3 JSON `WebhookNotification` ({uri, channelToken}; `channel_token` is accepted
 * too, as proto3 JSON parsers must). Returns undefined when no webhook was given (undefined or
 * null). Throws INVALID_ARGUMENT naming `${field}.uri` / `${field}.channel_token`; `field`
 * defaults to `webhook_notification`.
 */
export function validateWebhook(
  input: unknown,
  opts: { allowHttp: boolean; field?: string },
): Webhook | undefined {
  const field = opts.field ?? 'webhook_notification';
  if (input === undefined || input === null) return undefined;
  if (typeof input !== 'object' || Array.isArray(input))
    throw errors.invalidField(field, 'must be an object {"uri": ..., "channelToken": ...}.');
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!['uri', 'channelToken', 'channel_token'].includes(k))
      throw errors.invalidField(`${field}.${k}`, 'is not a field of WebhookNotification.');
  }
  const uriField = `${field}.uri`;
  const tokenField = `${field}.channel_token`;
  const uri = o.uri;
  const token = o.channelToken ?? o.channel_token;
  if (uri === undefined || uri === null || uri === '')
    throw errors.invalidField(uriField, 'is required when a webhook notification is given.');
  if (typeof uri !== 'string') throw errors.invalidField(uriField, 'must be a string.');
  if (uri.length > WEBHOOK_URI_MAX)
    throw errors.invalidField(uriField, `must be at most ${WEBHOOK_URI_MAX} characters (got ${uri.length}).`);
  if (!RFC1738.test(uri) || BAD_ESCAPE.test(uri))
    throw errors.invalidField(
      uriField,
      'contains characters RFC 1738 does not allow in a URL (percent-encode them; "%" must start a %XX escape).',
    );
  const schemes = opts.allowHttp ? ['https', 'http'] : ['https'];
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(uri)?.[1]?.toLowerCase();
  let url: URL | undefined;
  try {
    url = new URL(uri);
  } catch {
    url = undefined;
  }
  if (!url || !scheme || url.hostname === '')
    throw errors.invalidField(
      uriField,
      `must be an absolute URL like https://host/path (got ${JSON.stringify(uri)}).`,
    );
  if (!schemes.includes(scheme) || url.protocol !== `${scheme}:`)
    throw errors.invalidField(
      uriField,
      opts.allowHttp ? 'must be an https:// or http:// URL.' : 'must be an https:// URL.',
    );
  if (url.username !== '' || url.password !== '')
    throw errors.invalidField(uriField, 'must not contain credentials (user:password@).');
  if (token === undefined || token === null || token === '') return { uri };
  if (typeof token !== 'string') throw errors.invalidField(tokenField, 'must be a string.');
  if (token.length > WEBHOOK_TOKEN_MAX)
    throw errors.invalidField(
      tokenField,
      `must be at most ${WEBHOOK_TOKEN_MAX} characters (got ${token.length}).`,
    );
  // Sent back verbatim in an HTTP header, so only printable ASCII can travel.
  if (!/^[\x20-\x7e]*$/.test(token))
    throw errors.invalidField(tokenField, 'must contain only printable ASCII characters.');
  return { uri, channelToken: token };
}

// ---------------------------------------------------------------------------------------------
// Outbox

export interface WebhookLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface WebhookOutboxOptions {
  /** A 2xx must arrive within this time (ms). Default 5000. */
  timeoutMs?: number;
  /** Attempts before FAILED. Default 100. */
  maxAttempts?: number;
  /** No retry is scheduled past create time + this (ms). Default 24 h. */
  giveUpAfterMs?: number;
  /** Backoff base (ms). Default 2000. */
  baseDelayMs?: number;
  /** Backoff cap (ms). Default 30 min. */
  maxDelayMs?: number;
  /** Idle poll interval (ms): picks up deliveries enqueued by other processes and lapsed leases. Default 1000. */
  pollMs?: number;
  /** Sends in flight at once. Default 8. */
  concurrency?: number;
  /** Lease of a claimed delivery (ms); must exceed timeoutMs. Default 2 * timeoutMs + 10 s. */
  leaseMs?: number;
  /** Replaces the global fetch (tests). */
  fetch?: typeof fetch;
  /** Jitter source in [0, 1) (tests). Default Math.random. */
  random?: () => number;
  /** Lease owner id; default host:pid:random. */
  owner?: string;
}

export interface NewDelivery {
  /** The notified resource, e.g. `properties/1/audienceLists/5`. */
  resource: string;
  uri: string;
  channelToken?: string;
  /** The resource JSON (proto3 JSON), e.g. the AudienceList; `sentTimestamp` is added per attempt. */
  body: Record<string, unknown>;
}

export type DeliveryState = 'PENDING' | 'DELIVERED' | 'FAILED';

export interface DeliveryStatus {
  id: number;
  uri: string;
  state: DeliveryState;
  attempts: number;
  lastError?: string;
  /** RFC 3339 (µs). */
  lastAttemptTime?: string;
  /** RFC 3339 (µs); PENDING only. */
  nextAttemptTime?: string;
  /** RFC 3339 (µs); DELIVERED only. */
  deliveredTime?: string;
}

type Outcome = { ok: true; sentAt: number } | { ok: false; sentAt: number; error: string };

export class WebhookOutbox {
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly giveUpAfterMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly pollMs: number;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly random: () => number;
  readonly owner: string;

  private readonly inFlight = new Set<Promise<void>>();
  private loopPromise: Promise<void> | undefined;
  private stopping = false;
  private kicked = false;
  private wake: (() => void) | undefined;

  constructor(
    db: CatalogDb,
    private readonly clock: Clock,
    private readonly log: WebhookLogger,
    opts: WebhookOutboxOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxAttempts = opts.maxAttempts ?? 100;
    this.giveUpAfterMs = opts.giveUpAfterMs ?? 24 * 3600 * 1000;
    this.baseDelayMs = opts.baseDelayMs ?? 2000;
    this.maxDelayMs = opts.maxDelayMs ?? 30 * 60 * 1000;
    this.pollMs = opts.pollMs ?? 1000;
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
    this.leaseMs = opts.leaseMs ?? 2 * this.timeoutMs + 10_000;
    if (this.leaseMs <= this.timeoutMs) throw new Error('WebhookOutbox: leaseMs must exceed timeoutMs');
    this.fetchFn = opts.fetch ?? fetch;
    this.random = opts.random ?? Math.random;
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.repo = new WebhookDeliveryRepository(db);
  }

  private readonly repo: WebhookDeliveryRepository;

  /** Persists a PENDING delivery (committed when this resolves), wakes the loop, returns its id. */
  async enqueue(n: NewDelivery): Promise<number> {
    const now = this.nowNum();
    const id = await this.repo.insert({
      resource: n.resource,
      uri: n.uri,
      channelToken: n.channelToken === undefined || n.channelToken === '' ? null : n.channelToken,
      body: JSON.stringify(n.body),
      now,
    });
    this.kick();
    return id;
  }

  /** Deliveries of a resource, oldest first. */
  async status(resource: string): Promise<DeliveryStatus[]> {
    const rows = await this.repo.byResource(resource);
    return rows.map((r) => ({
      id: r.id,
      uri: r.uri,
      state: r.state,
      attempts: r.attempts,
      ...(r.last_error === null ? {} : { lastError: r.last_error }),
      ...(r.last_attempt_time === null ? {} : { lastAttemptTime: microsToRfc3339(r.last_attempt_time) }),
      ...(r.state === 'PENDING' ? { nextAttemptTime: microsToRfc3339(r.next_attempt_time) } : {}),
      ...(r.delivered_time === null ? {} : { deliveredTime: microsToRfc3339(r.delivered_time) }),
    }));
  }

  /** Deletes DELIVERED and FAILED deliveries created before `beforeMicros`; returns how many. */
  async purgeFinished(beforeMicros: bigint): Promise<number> {
    return this.repo.purgeFinished(Number(beforeMicros));
  }

  /** Starts the delivery loop (idempotent). */
  start(): void {
    if (this.loopPromise) return;
    this.stopping = false;
    this.loopPromise = this.loop();
  }

  /** Wakes the loop to claim due deliveries now. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** Stops claiming and waits for the sends in flight to finish and be recorded. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loopPromise;
    this.loopPromise = undefined;
  }

  /**
   * One pass without the loop: claims what is due (up to the free concurrency) and waits for those
   * sends. Returns how many were attempted. For tests and tools; the loop does the same.
   */
  async runOnce(): Promise<number> {
    const claimed = await this.claim(this.concurrency);
    await Promise.all(claimed.map((r) => this.deliver(r)));
    return claimed.length;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let sleepMs = this.pollMs;
      try {
        const free = this.concurrency - this.inFlight.size;
        if (free > 0) {
          const claimed = await this.claim(free);
          for (const row of claimed) this.launch(row);
          if (this.inFlight.size < this.concurrency) {
            const next = await this.nextDue();
            if (next !== undefined) {
              const ms = Math.ceil((next - this.nowNum()) / 1000);
              sleepMs = Math.min(this.pollMs, Math.max(ms, 1));
            }
          }
        }
      } catch (err) {
        this.log.error('webhook outbox: claim failed', { error: describe(err) });
      }
      await this.sleep(sleepMs);
    }
    await Promise.allSettled([...this.inFlight]);
  }

  private launch(row: DeliveryRow): void {
    const p: Promise<void> = this.deliver(row)
      .catch((err: unknown) => {
        this.log.error('webhook outbox: recording a delivery failed', { id: row.id, error: describe(err) });
      })
      .finally(() => {
        this.inFlight.delete(p);
        // A finished delivery may unblock the next one of its resource, and frees a slot.
        this.kick();
      });
    this.inFlight.add(p);
  }

  private sleep(ms: number): Promise<void> {
    if (this.kicked || this.stopping) {
      this.kicked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.wake = undefined;
        this.kicked = false;
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref();
      this.wake = done;
    });
  }

  private nowNum(): number {
    return Number(this.clock());
  }

  /** Leases up to `limit` due deliveries that no earlier PENDING delivery of their (resource, uri) precedes. */
  private async claim(limit: number): Promise<DeliveryRow[]> {
    return this.repo.claim(this.owner, this.nowNum(), this.leaseMs * 1000, limit);
  }

  /** Earliest next_attempt_time of an unleased, unblocked PENDING delivery. */
  private async nextDue(): Promise<number | undefined> {
    return this.repo.nextDue(this.nowNum());
  }

  private async deliver(row: DeliveryRow): Promise<void> {
    const outcome = await this.send(row);
    const now = this.nowNum();
    const base = { last_attempt_time: outcome.sentAt, lease_owner: null, lease_expires: null };
    if (outcome.ok) {
      if (await this.record(row.id, { ...base, state: 'DELIVERED', delivered_time: now, last_error: null }))
        this.log.info('webhook delivered', { id: row.id, resource: row.resource, attempts: row.attempts });
      return;
    }
    const deadline = row.create_time + this.giveUpAfterMs * 1000;
    if (row.attempts >= this.maxAttempts || now >= deadline) {
      if (await this.record(row.id, { ...base, state: 'FAILED', last_error: outcome.error }))
        this.log.error('webhook delivery failed; giving up', {
          id: row.id,
          resource: row.resource,
          uri: row.uri,
          attempts: row.attempts,
          error: outcome.error,
        });
      return;
    }
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(row.attempts - 1, 40));
    const next = Math.min(now + Math.floor(this.random() * cap * 1000), deadline);
    if (await this.record(row.id, { ...base, next_attempt_time: next, last_error: outcome.error }))
      this.log.info('webhook delivery failed; will retry', {
        id: row.id,
        resource: row.resource,
        attempts: row.attempts,
        retryInMs: Math.round((next - now) / 1000),
        error: outcome.error,
      });
  }

  /** Records an attempt's outcome if this outbox still holds the lease; false when it was lost. */
  private async record(id: number, values: Updateable<WebhookDeliveriesTable>): Promise<boolean> {
    return this.repo.record(id, this.owner, values);
  }

  private async send(row: DeliveryRow): Promise<Outcome> {
    const sentAtUs = this.clock();
    const sentAt = Number(sentAtUs);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.timeoutMs);
    try {
      const body = JSON.stringify({
        ...(JSON.parse(row.body) as Record<string, unknown>),
        sentTimestamp: sentAtUs.toString(),
      });
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (row.channel_token !== null) headers['X-Goog-Channel-Token'] = row.channel_token;
      const res = await this.fetchFn(row.uri, {
        method: 'POST',
        headers,
        body,
        signal: ac.signal,
        redirect: 'manual',
      });
      if (res.status >= 200 && res.status < 300) {
        await res.body?.cancel().catch(() => undefined);
        return { ok: true, sentAt };
      }
      const snippet = await readSnippet(res, 200);
      return {
        ok: false,
        sentAt,
        error: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${snippet ? `: ${snippet}` : ''}`,
      };
    } catch (err) {
      if (ac.signal.aborted) return { ok: false, sentAt, error: `no response within ${this.timeoutMs} ms` };
      return { ok: false, sentAt, error: describe(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The first `max` characters of a response body (for error messages), without reading it all. */
async function readSnippet(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // the body is only for the message
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as { code?: unknown }).code;
      return `${err.message}: ${typeof code === 'string' ? `${code} ` : ''}${cause.message}`;
    }
    return err.message;
  }
  return String(err);
}
