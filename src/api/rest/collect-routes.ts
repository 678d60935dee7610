// Event collection over HTTP: Measurement Protocol (/mp/collect, /debug/mp/collect) and gtag.js
// hits (/g/collect). Production endpoints answer 2xx whatever happens, as Google's do; an event is
// acknowledged only after the ingest buffer has made it durable. Invalid input is dropped and
// counted, never stored.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdminService } from '../service/admin.ts';
import type { IngestBuffer } from '../../ingest/buffer.ts';
import type { Sessionizer } from '../../ingest/sessionizer.ts';
import type { SessionContext } from '../../ingest/session-context.ts';
import {
  validateMeasurement,
  validateMeasurementBody,
  type MeasurementContext,
  type ValidationResult,
} from '../../ingest/mp/validate.ts';
import type { ParsedEvent } from '../../ingest/common.ts';
import type { NewEvent } from '../../domain/event.ts';
import { toEvents } from '../../ingest/mp/to-events.ts';
import { parseGtagHit } from '../../ingest/gtag/parse.ts';
import { MAX_BODY_BYTES } from '../../ingest/common.ts';
import { nowMicros } from '../../domain/time.ts';
import type { Logger, RestApi } from './http-server.ts';
import { sendError, sendJson } from './http-server.ts';
import { errors } from '../../domain/errors.ts';
import type { EncodedEvents, EventStore } from '../../storage/contract.ts';

interface StreamInfo {
  streamId: number;
  propertyId: number;
  timeZone: string;
  secrets: string[];
}

/** Counters of what collection accepted and dropped, exposed on /audex/v1/metrics. */
export interface CollectStats {
  requests: number;
  eventsStored: number;
  /** Of eventsStored, those parsed, validated and encoded off the main thread (encodeMeasurement). */
  eventsEncodedOffThread: number;
  requestsDropped: Record<string, number>;
}

/**
 * Stream lookups by measurement id, cached for a few seconds (misses too), so hostile or busy
 * traffic does not hit the catalog on every request. Bounded: the cache is cleared when full.
 * Exact for changes made through this process's AdminService: any stream, secret or property
 * change bumps `admin.collectionVersion`, which drops every cached lookup before the next request
 * (a secret created just now works, a deleted one or a deleted stream's is refused at once).
 */
class StreamCache {
  private readonly entries = new Map<string, { info: StreamInfo | null; at: number }>();
  private version: number;
  constructor(private readonly admin: AdminService) {
    this.version = admin.collectionVersion;
  }

  async get(measurementId: string): Promise<StreamInfo | null> {
    const version = this.admin.collectionVersion;
    if (version !== this.version) {
      this.entries.clear();
      this.version = version;
    }
    const hit = this.entries.get(measurementId);
    if (hit && Date.now() - hit.at < 5_000) return hit.info;
    const row = await this.admin.streamByMeasurementId(measurementId);
    const info = row
      ? {
          streamId: row.streamId,
          propertyId: row.propertyId,
          timeZone: row.timeZone,
          secrets: await this.admin.secretValues(row.streamId),
        }
      : null;
    // A change during the lookup may have made it stale: use it for this request, never cache it.
    if (this.admin.collectionVersion !== version) return info;
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(measurementId, { info, at: Date.now() });
    return info;
  }
}

/**
 * Reads at most `limit` bytes; `buf` is null (and the rest drained) when the body is larger.
 * Plain 'data'/'end' listeners: this runs for every collected hit, and an async iterator over the
 * request costs several promise allocations per chunk.
 */
export function readCapped(
  req: IncomingMessage,
  limit: number,
): Promise<{ buf: Buffer | null; size: number }> {
  return new Promise((resolve, reject) => {
    let first: Buffer | null = null;
    let chunks: Buffer[] | null = null;
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        first = null;
        chunks = null;
      } else if (first === null) first = chunk;
      else (chunks ??= [first]).push(chunk);
    });
    req.once('end', () => {
      if (size > limit) resolve({ buf: null, size });
      else resolve({ buf: chunks ? Buffer.concat(chunks) : (first ?? Buffer.alloc(0)), size });
    });
    req.once('error', reject);
    // A client that goes away mid-body never sends 'end' (a settled promise ignores this).
    req.once('close', () => {
      if (!req.complete) reject(new Error('request aborted'));
    });
  });
}

/** The validator's view of a request body, whether it fit under the limit or not. */
function validateBody(
  read: { buf: Buffer | null; size: number },
  query: URLSearchParams,
  debug: boolean,
): ValidationResult {
  const ctx = { query: measurementQuery(query), debug, nowMicros: nowMicros() };
  return read.buf === null
    ? validateMeasurement(undefined, { ...ctx, bodyBytes: read.size })
    : validateMeasurementBody(read.buf, ctx);
}

function measurementQuery(q: URLSearchParams): MeasurementContext['query'] {
  const out: MeasurementContext['query'] = {};
  for (const k of ['measurement_id', 'api_secret', 'firebase_app_id'] as const) {
    const v = q.get(k);
    if (v !== null) out[k] = v;
  }
  return out;
}

function noContent(res: ServerResponse): void {
  res.writeHead(204, { 'access-control-allow-origin': '*' });
  res.end();
}

export function registerCollectRoutes(
  api: RestApi,
  deps: {
    admin: AdminService;
    ingest: IngestBuffer;
    sessionizer: Sessionizer;
    /** MP events of a known session take its device and geography (src/ingest/session-context.ts). */
    sessionContext: SessionContext;
    /**
     * The store's off-main-thread path for MP bodies (DuckDB: worker threads that parse,
     * validate and encode; docs/deploy.md). Without it, the route does that work itself.
     */
    encodeMeasurement?: EventStore['encodeMeasurement'];
    log: Logger;
  },
): CollectStats {
  const streams = new StreamCache(deps.admin);
  const stats: CollectStats = {
    requests: 0,
    eventsStored: 0,
    eventsEncodedOffThread: 0,
    requestsDropped: {},
  };
  const drop = (reason: string) => (stats.requestsDropped[reason] = (stats.requestsDropped[reason] ?? 0) + 1);

  /** Acknowledges only after the ingest buffer made the events durable; else 503 (retriable). */
  const submit = async (res: ServerResponse, events: NewEvent[] | EncodedEvents, source: 'mp' | 'gtag') => {
    try {
      await deps.ingest.submit(events);
      stats.eventsStored += Array.isArray(events) ? events.length : events.encodedRows;
      noContent(res);
      return true;
    } catch (err) {
      // Not stored: 503 tells a retrying client that nothing was acknowledged.
      deps.log.error(`${source} ingest failed`, { err: String(err) });
      sendError(res, errors.unavailable('Events could not be stored; retry.'));
      return false;
    }
  };

  /** An MP body through the store's workers: parsed, validated and encoded off this thread. */
  const storeEncoded = async (
    res: ServerResponse,
    encode: NonNullable<EventStore['encodeMeasurement']>,
    body: Buffer,
    query: URLSearchParams,
    stream: StreamInfo,
  ) => {
    let encoded: EncodedEvents | null;
    try {
      encoded = await encode(
        {
          body,
          query: measurementQuery(query),
          nowMicros: nowMicros(),
          propertyId: BigInt(stream.propertyId),
          streamId: String(stream.streamId),
          timeZone: stream.timeZone,
        },
        { sessionContext: deps.sessionContext, sessionizer: deps.sessionizer },
      );
    } catch (err) {
      // Nothing was stored (a worker that died three times, or the pool closing): retriable.
      deps.log.error('mp encoding failed', { err: String(err) });
      return sendError(res, errors.unavailable('Events could not be stored; retry.'));
    }
    if (!encoded) return (drop('invalid_measurement'), noContent(res));
    if (await submit(res, encoded, 'mp')) stats.eventsEncodedOffThread += encoded.encodedRows;
  };

  /** Acknowledges only after the ingest buffer made the events durable. */
  const store = async (
    res: ServerResponse,
    parsed: ParsedEvent[],
    stream: StreamInfo,
    source: 'mp' | 'gtag',
  ) => {
    const events = toEvents(parsed, {
      propertyId: BigInt(stream.propertyId),
      streamId: String(stream.streamId),
      timeZone: stream.timeZone,
      nowMicros: nowMicros(),
    });
    for (const e of events) e.source = source;
    // Before the sessionizer: only session ids that the client sent count.
    deps.sessionContext.apply(events, source === 'mp');
    deps.sessionizer.assign(events);
    await submit(res, events, source);
  };

  api.raw('POST', '/mp/collect', async (req, res, { query }) => {
    stats.requests++;
    const read = await readCapped(req, MAX_BODY_BYTES);
    const measurementId = query.get('measurement_id');
    const stream = measurementId ? await streams.get(measurementId) : null;
    if (!stream) return (drop('unknown_measurement_id'), noContent(res));
    const secret = query.get('api_secret');
    if (!secret || !stream.secrets.includes(secret)) return (drop('bad_api_secret'), noContent(res));
    if (deps.encodeMeasurement && read.buf !== null)
      return storeEncoded(res, deps.encodeMeasurement, read.buf, query, stream);
    const result = validateBody(read, query, false);
    if (result.events.length === 0) return (drop('invalid_measurement'), noContent(res));
    await store(res, result.events, stream, 'mp');
  });

  // Debug validates everything and stores nothing; like Google's, it does not check api_secret.
  api.raw('POST', '/debug/mp/collect', async (req, res, { query }) => {
    const read = await readCapped(req, MAX_BODY_BYTES);
    sendJson(res, 200, { validationMessages: validateBody(read, query, true).messages });
  });

  const gtag = async (req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => {
    stats.requests++;
    const read =
      req.method === 'POST' ? await readCapped(req, MAX_BODY_BYTES) : { buf: Buffer.alloc(0), size: 0 };
    if (req.method !== 'POST') req.resume();
    if (read.buf === null) return (drop('body_too_large'), noContent(res));
    const hit = parseGtagHit({
      query,
      body: read.buf.toString('utf8'),
      nowMicros: nowMicros(),
      userAgent: req.headers['user-agent'] ?? null,
    });
    const stream = hit.measurementId ? await streams.get(hit.measurementId) : null;
    if (!stream) return (drop('unknown_measurement_id'), noContent(res));
    if (hit.events.length === 0) return (drop('invalid_hit'), noContent(res));
    await store(res, hit.events, stream, 'gtag');
  };
  api.raw('POST', '/g/collect', async (req, res, { query }) => gtag(req, res, query));
  api.raw('GET', '/g/collect', async (req, res, { query }) => gtag(req, res, query));
  return stats;
}
