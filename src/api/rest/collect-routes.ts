// Event collection over HTTP: Measurement Protocol (/mp/collect, /debug/mp/collect) and gtag.js
// hits (/g/collect). Production endpoints answer 2xx whatever happens, as Google's do; an event is
// acknowledged only after the ingest buffer has made it durable. Invalid input is dropped and
// counted, never stored.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdminService } from '../service/admin.ts';
import type { IngestBuffer } from '../../ingest/buffer.ts';
import type { Sessionizer } from '../../ingest/sessionizer.ts';
import { validateMeasurement } from '../../ingest/mp/validate.ts';
import { toEvents } from '../../ingest/mp/to-events.ts';
import { parseGtagHit } from '../../ingest/gtag/parse.ts';
import { MAX_BODY_BYTES } from '../../ingest/common.ts';
import { nowMicros } from '../../domain/time.ts';
import type { Logger, RestApi } from './http-server.ts';
import { sendJson } from './http-server.ts';

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
  requestsDropped: Record<string, number>;
}

/**
 * Stream lookups by measurement id, cached for a few seconds (misses too), so hostile or busy
 * traffic does not hit the catalog on every request. Bounded: the cache is cleared when full.
 */
class StreamCache {
  private readonly entries = new Map<string, { info: StreamInfo | null; at: number }>();
  constructor(private readonly admin: AdminService) {}

  async get(measurementId: string): Promise<StreamInfo | null> {
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
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(measurementId, { info, at: Date.now() });
    return info;
  }
}

/** Reads at most `limit` bytes; returns null (and drains the rest) when the body is larger. */
async function readCapped(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const chunk of req) {
    if (over) continue;
    size += (chunk as Buffer).length;
    if (size > limit) {
      over = true;
      chunks.length = 0;
      continue;
    }
    chunks.push(chunk as Buffer);
  }
  return over ? null : Buffer.concat(chunks);
}

function noContent(res: ServerResponse): void {
  res.writeHead(204, { 'access-control-allow-origin': '*' });
  res.end();
}

export function registerCollectRoutes(
  api: RestApi,
  deps: { admin: AdminService; ingest: IngestBuffer; sessionizer: Sessionizer; log: Logger },
): CollectStats {
  const streams = new StreamCache(deps.admin);
  const stats: CollectStats = { requests: 0, eventsStored: 0, requestsDropped: {} };
  const drop = (reason: string) => (stats.requestsDropped[reason] = (stats.requestsDropped[reason] ?? 0) + 1);

  const measurementQuery = (q: URLSearchParams) => ({
    ...(q.get('measurement_id') !== null ? { measurement_id: q.get('measurement_id')! } : {}),
    ...(q.get('api_secret') !== null ? { api_secret: q.get('api_secret')! } : {}),
    ...(q.get('firebase_app_id') !== null ? { firebase_app_id: q.get('firebase_app_id')! } : {}),
  });

  const parseBody = (buf: Buffer | null): { body: unknown; ok: boolean } => {
    if (buf === null) return { body: undefined, ok: false };
    try {
      return { body: JSON.parse(buf.toString('utf8')), ok: true };
    } catch {
      return { body: undefined, ok: false };
    }
  };

  api.raw('POST', '/mp/collect', async (req, res, { query }) => {
    stats.requests++;
    const buf = await readCapped(req, MAX_BODY_BYTES - 1);
    const { body, ok } = parseBody(buf);
    if (!ok) return (drop(buf === null ? 'body_too_large' : 'invalid_json'), noContent(res));
    const measurementId = query.get('measurement_id');
    const stream = measurementId ? await streams.get(measurementId) : null;
    if (!stream) return (drop('unknown_measurement_id'), noContent(res));
    const secret = query.get('api_secret');
    if (!secret || !stream.secrets.includes(secret)) return (drop('bad_api_secret'), noContent(res));
    const now = nowMicros();
    const result = validateMeasurement(body, {
      query: measurementQuery(query),
      bodyBytes: buf!.length,
      debug: false,
      nowMicros: now,
    });
    if (result.events.length === 0) return (drop('invalid_measurement'), noContent(res));
    const events = toEvents(result.events, {
      propertyId: BigInt(stream.propertyId),
      streamId: String(stream.streamId),
      timeZone: stream.timeZone,
      nowMicros: now,
    });
    deps.sessionizer.assign(events);
    try {
      await deps.ingest.submit(events);
      stats.eventsStored += events.length;
      noContent(res);
    } catch (err) {
      // Not stored: answer 503 so a client that retries does not lose the events.
      deps.log.error('mp ingest failed', { err: String(err) });
      sendJson(res, 503, {
        error: { code: 503, message: 'Events could not be stored; retry.', status: 'UNAVAILABLE' },
      });
    }
  });

  api.raw('POST', '/debug/mp/collect', async (req, res, { query }) => {
    const buf = await readCapped(req, 4 * MAX_BODY_BYTES);
    const tooLarge = buf === null || buf.length >= MAX_BODY_BYTES;
    let body: unknown = undefined;
    let parsed = true;
    if (buf !== null) ({ body, ok: parsed } = parseBody(buf));
    const validationMessages = [];
    if (tooLarge) {
      validationMessages.push({
        fieldPath: '',
        description: 'Post body must be smaller than 130kB.',
        validationCode: 'VALUE_OUT_OF_BOUNDS',
      });
    }
    if (buf !== null && !parsed) {
      validationMessages.push({
        fieldPath: '',
        description: 'Unable to parse request body.',
        validationCode: 'VALUE_INVALID',
      });
    } else if (buf !== null) {
      const result = validateMeasurement(body, {
        query: measurementQuery(query),
        bodyBytes: buf.length,
        debug: true,
        nowMicros: nowMicros(),
      });
      validationMessages.push(...result.messages);
    }
    sendJson(res, 200, { validationMessages });
  });

  const gtag = async (req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => {
    stats.requests++;
    const buf = req.method === 'POST' ? await readCapped(req, MAX_BODY_BYTES - 1) : Buffer.alloc(0);
    if (req.method !== 'POST') req.resume();
    if (buf === null) return (drop('body_too_large'), noContent(res));
    const now = nowMicros();
    const hit = parseGtagHit({ query, body: buf.toString('utf8'), nowMicros: now });
    const stream = hit.measurementId ? await streams.get(hit.measurementId) : null;
    if (!stream) return (drop('unknown_measurement_id'), noContent(res));
    if (hit.events.length === 0) return (drop('invalid_hit'), noContent(res));
    const events = toEvents(hit.events, {
      propertyId: BigInt(stream.propertyId),
      streamId: String(stream.streamId),
      timeZone: stream.timeZone,
      nowMicros: now,
    });
    for (const e of events) e.source = 'gtag';
    deps.sessionizer.assign(events);
    try {
      await deps.ingest.submit(events);
      stats.eventsStored += events.length;
      noContent(res);
    } catch (err) {
      deps.log.error('gtag ingest failed', { err: String(err) });
      sendJson(res, 503, {
        error: { code: 503, message: 'Events could not be stored; retry.', status: 'UNAVAILABLE' },
      });
    }
  };
  api.raw('POST', '/g/collect', async (req, res, { query }) => gtag(req, res, query));
  api.raw('GET', '/g/collect', async (req, res, { query }) => gtag(req, res, query));
  return stats;
}
