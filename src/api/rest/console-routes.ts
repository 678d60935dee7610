// The console's routes: the page and its hashed assets (web/, built by web/build.mjs), and the audex
// extensions it needs besides the public API: the size of an unsaved audience now and over the last
// 30 days, event counts and the latest events of a property, and a streaming download of an
// export's rows. Every data route authenticates like the rest of the API; only the page and its
// assets are public (they hold no data).

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type { ServerResponse } from 'node:http';
import { DateTime } from 'luxon';
import type { CatalogDb } from '../../catalog/db.ts';
import { PropertyRepository } from '../../catalog/repos/properties.ts';
import type { AudienceEngine, EventStore, MemberRow, SnapshotStore } from '../../storage/contract.ts';
import { ndjsonToParquet } from '../../storage/index.ts';
import { parseAudience } from '../../audience/validate.ts';
import { registeredFieldNames } from '../../audience/fields.ts';
import type { AudienceDefinition } from '../../domain/audience.ts';
import { errors, toApiError } from '../../domain/errors.ts';
import { parseName, parseProperty } from '../../domain/names.ts';
import { microsToRfc3339, nowMicros } from '../../domain/time.ts';
import { requireRole, type Principal } from '../../auth/principal.ts';
import { requireProperty } from '../service/properties.ts';
import { dimensionValue, type ExportDimension, type ExportService } from '../service/exports.ts';
import { snapshotIdOf } from '../../exports/runner.ts';
import { jsonSafe } from '../service/events.ts';
import { sendError, type RestApi } from './http-server.ts';
import { consoleAssets } from './console-assets.ts';

export interface ConsoleDeps {
  catalog: CatalogDb;
  events: EventStore;
  engine: AudienceEngine;
  snapshots: SnapshotStore;
  exports: ExportService;
  /** Days of history before an audience's creation that count (config.exports.backfillDays). */
  backfillDays: number | 'all';
}

/** Rows per page read from a snapshot while streaming a download (bounded memory). */
const DOWNLOAD_PAGE = 50_000;
const HISTORY_DAYS = 30;

export function registerConsoleRoutes(api: RestApi, deps: ConsoleDeps): void {
  const assets = consoleAssets();
  const properties = new PropertyRepository(deps.catalog);
  api.raw('GET', '/', async (_req, res) => assets.sendPage(res));
  api.raw('GET', '/console/assets/{file}', async (_req, res, ctx) => assets.sendAsset(res, ctx.params.file!));

  // Who the key is (the console enables write actions by role) and the field names the builder offers.
  api.api('GET', '/audex/v1/session', async (r) => ({
    superuser: r.principal.superuser,
    bindings: [...r.principal.roles].map(([id, role]) => ({ property: `properties/${id}`, role })),
    fieldNames: registeredFieldNames(),
  }));

  const timeZoneOf = async (propertyId: number): Promise<string> => {
    const timeZone = await properties.timeZone(propertyId);
    if (timeZone === undefined) throw errors.notFound(`Property properties/${propertyId} not found.`);
    return timeZone;
  };

  /** The definition in the body, validated exactly as AudienceService.create validates it. */
  const unsaved = async (p: Principal, parent: string, body: unknown) => {
    const propertyId = parseProperty(parent, 'parent');
    requireRole(p, propertyId, 'viewer');
    const timeZone = await timeZoneOf(propertyId);
    const audience = parseAudience(body);
    return { propertyId, timeZone, audience };
  };

  const members = async (
    propertyId: number,
    audience: AudienceDefinition,
    timeZone: string,
    createTimeMicros: bigint,
    asOfMicros: bigint,
  ): Promise<number> => {
    const ids = await deps.engine.findMembers({
      propertyId: BigInt(propertyId),
      audience,
      asOfMicros,
      config: {
        // An unsaved audience is judged as if it were created now (its backfill window ends now).
        createTimeMicros,
        backfillDays: deps.backfillDays === 'all' ? null : deps.backfillDays,
        timeZone,
        ignoreEventNamesForAdjacency: [],
      },
    });
    return ids.length;
  };

  // Size of an unsaved definition now: exact, through the same engine as exports; stores nothing.
  api.api('POST', '/audex/v1/{parent=properties/*}/audiences:evaluate', async (r) => {
    const { propertyId, timeZone, audience } = await unsaved(r.principal, r.params.parent!, r.body);
    const started = performance.now();
    const now = nowMicros();
    const memberCount = await members(propertyId, audience, timeZone, now, now);
    return {
      memberCount: String(memberCount),
      asOfTime: microsToRfc3339(now),
      elapsedMs: Math.round((performance.now() - started) * 10) / 10,
    };
  });

  // Membership at the end of each of the last 30 days (today: now), in the property's time zone.
  api.api('POST', '/audex/v1/{parent=properties/*}/audiences:sizeHistory', async (r) => {
    const { propertyId, timeZone, audience } = await unsaved(r.principal, r.params.parent!, r.body);
    const started = performance.now();
    const now = nowMicros();
    const today = DateTime.fromMillis(Number(now / 1000n), { zone: timeZone });
    const days: { date: string; memberCount: string }[] = [];
    for (let back = HISTORY_DAYS - 1; back >= 0; back--) {
      const day = today.minus({ days: back });
      const asOf = back === 0 ? now : BigInt(day.endOf('day').toMillis()) * 1000n + 999n;
      days.push({
        date: day.toISODate()!,
        memberCount: String(await members(propertyId, audience, timeZone, now, asOf)),
      });
    }
    return { days, elapsedMs: Math.round(performance.now() - started) };
  });

  // Events per minute over the last hour or per hour over the last week (event time).
  api.api('GET', '/audex/v1/{parent=properties/*}/eventCounts', async (r) => {
    const propertyId = parseProperty(r.params.parent!, 'parent');
    requireRole(r.principal, propertyId, 'viewer');
    await requireProperty(deps.catalog, propertyId);
    const granularity = r.query.get('granularity') ?? 'minute';
    if (granularity !== 'minute' && granularity !== 'hour')
      throw errors.invalidField('granularity', 'must be "minute" or "hour".');
    const stepMicros = granularity === 'minute' ? 60_000_000n : 3_600_000_000n;
    const buckets = granularity === 'minute' ? 60 : 168;
    const lastStart = (nowMicros() / stepMicros) * stepMicros;
    const from = lastStart - stepMicros * BigInt(buckets - 1);
    const byBucket = await deps.events.countEventsByBucket(BigInt(propertyId), from, stepMicros);
    const points = [];
    for (let i = 0; i < buckets; i++) {
      const start = from + stepMicros * BigInt(i);
      points.push({ startTime: microsToRfc3339(start), eventCount: byBucket.get(start / stepMicros) ?? 0 });
    }
    return { granularity, points };
  });

  // The latest stored events, newest first (like GA4's DebugView). Admin, as events carry user ids.
  api.api('GET', '/audex/v1/{parent=properties/*}/events:latest', async (r) => {
    const propertyId = parseProperty(r.params.parent!, 'parent');
    requireRole(r.principal, propertyId, 'admin');
    await requireProperty(deps.catalog, propertyId);
    const limit = Number(r.query.get('limit') ?? '50');
    if (!Number.isInteger(limit) || limit < 1 || limit > 500)
      throw errors.invalidField('limit', 'must be an integer from 1 to 500.');
    const latest = await deps.events.latestEvents(BigInt(propertyId), limit);
    return {
      events: latest.map((e) =>
        jsonSafe({
          eventName: e.event_name,
          eventTime: microsToRfc3339(e.event_timestamp),
          receivedTime: microsToRfc3339(e.received_at),
          source: e.source,
          streamId: e.stream_id,
          userPseudoId: e.user_pseudo_id,
          userId: e.user_id,
          eventParams: e.event_params,
        }),
      ),
    };
  });

  // Every row of an ACTIVE export as CSV, NDJSON or Parquet, streamed page by page.
  api.raw('GET', '/audex/v1/{name=properties/*/audienceExports/*}:download', async (req, res, ctx) => {
    try {
      const principal = await ctx.authenticate();
      const name = ctx.params.name!;
      const format = ctx.query.get('format') ?? 'csv';
      if (format !== 'csv' && format !== 'ndjson' && format !== 'parquet')
        throw errors.invalidField('format', 'must be csv, ndjson or parquet.');
      const exp = await deps.exports.get(principal, name); // viewer role, NOT_FOUND
      if (exp.state !== 'ACTIVE')
        throw errors.failedPrecondition(
          `${name} is ${String(exp.state)}; only an ACTIVE export can be downloaded.`,
        );
      const [, id] = parseName('audienceExport', name, 'name');
      const dims = (exp.dimensions as { dimensionName: ExportDimension }[]).map((d) => d.dimensionName);
      const total = Number(exp.rowCount ?? 0);
      req.resume();
      await streamRows(res, {
        format,
        dims,
        total,
        filename: `audienceExport-${id}.${format}`,
        read: (offset, limit) => deps.snapshots.read(snapshotIdOf(id!), offset, limit),
      });
    } catch (err) {
      if (!res.headersSent) sendError(res, toApiError(err));
      else res.destroy();
    }
  });
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

async function write(out: NodeJS.WritableStream, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

async function streamRows(
  res: ServerResponse,
  o: {
    format: 'csv' | 'ndjson' | 'parquet';
    dims: ExportDimension[];
    total: number;
    filename: string;
    read: (offset: number, limit: number) => Promise<MemberRow[]>;
  },
): Promise<void> {
  const headers = (type: string) => ({
    'content-type': type,
    'content-disposition': `attachment; filename="${o.filename}"`,
    'x-audex-row-count': String(o.total),
    'cache-control': 'no-store',
  });
  const writeAll = async (out: NodeJS.WritableStream, line: (values: string[]) => string) => {
    if (o.format === 'csv') await write(out, o.dims.map(csvField).join(',') + '\r\n');
    for (let offset = 0; offset < o.total; offset += DOWNLOAD_PAGE) {
      const rows = await o.read(offset, Math.min(DOWNLOAD_PAGE, o.total - offset));
      if (rows.length === 0) break;
      let chunk = '';
      for (const row of rows) {
        chunk += line(o.dims.map((d) => dimensionValue(row, d)));
        if (chunk.length >= 1 << 20) {
          await write(out, chunk);
          chunk = '';
        }
      }
      if (chunk) await write(out, chunk);
    }
  };
  const csv = (values: string[]) => values.map(csvField).join(',') + '\r\n';
  const ndjson = (values: string[]) =>
    JSON.stringify(Object.fromEntries(o.dims.map((d, i) => [d, values[i]]))) + '\n';
  if (o.format !== 'parquet') {
    res.writeHead(200, headers(o.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson'));
    await writeAll(res, o.format === 'csv' ? csv : ndjson);
    res.end();
    return;
  }
  // Parquet needs the whole file before its footer: rows go to a temporary NDJSON file, DuckDB
  // converts it (streaming, see parquet-file.ts), and the Parquet file is streamed out.
  const dir = await mkdtemp(join(tmpdir(), 'audex-download-'));
  try {
    const textFile = join(dir, 'rows.ndjson');
    const parquetFile = join(dir, 'rows.parquet');
    const file = createWriteStream(textFile);
    await writeAll(file, ndjson);
    await new Promise<void>((resolve, reject) => {
      file.once('error', reject);
      file.end(() => resolve());
    });
    await ndjsonToParquet(textFile, parquetFile, o.dims);
    // A length lets clients (audex exports download) tell a complete file from a cut one.
    const { size } = await stat(parquetFile);
    res.writeHead(200, { ...headers('application/vnd.apache.parquet'), 'content-length': String(size) });
    await pipeline(createReadStream(parquetFile), res);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
