// Bulk import of GA4 BigQuery-export rows (an audex extension):
//   POST /audex/v1/properties/{p}:import   Content-Type: application/x-ndjson | application/vnd.apache.parquet
// NDJSON is parsed as it streams in (bounded memory); invalid rows are reported by line number
// while valid rows are stored, batch by batch. Parquet is spooled to a file in the data folder and
// loaded by the engine in one statement. Both paths map rows the same way (see
// src/ingest/import/README.md; rows without event_date are dated in the property's time zone),
// with one difference: NDJSON rows without ga_session_id are sessionised by the 30-minute rule
// (spec §5.2) as they stream through the shared Sessionizer, while a Parquet load, one SQL
// statement, stores them without a session. Editor role.

import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import type { AdminService } from '../service/admin.ts';
import type { IngestBuffer } from '../../ingest/buffer.ts';
import type { Sessionizer } from '../../ingest/sessionizer.ts';
import type { DuckDbEventStore } from '../../storage/duckdb/event-store.ts';
import { parseNdjson, type NdjsonError } from '../../ingest/import/ndjson.ts';
import { errors, toApiError, withoutPaths } from '../../domain/errors.ts';
import { isStorageError } from '../../storage/errors.ts';
import { nowMicros } from '../../domain/time.ts';
import { sendError, sendJson, type RestApi } from './http-server.ts';

const MAX_REPORTED_ERRORS = 100;

export interface ImportResult {
  importedRows: number;
  rejectedRows: number;
  /** The first rejected rows: `line` (NDJSON, 1-based) or `row` (Parquet, 0-based). */
  errors: { line?: number; row?: number; message: string }[];
}

function formatOf(req: IncomingMessage, query: URLSearchParams): 'ndjson' | 'parquet' {
  const explicit = query.get('format');
  if (explicit === 'ndjson' || explicit === 'parquet') return explicit;
  if (explicit !== null) throw errors.invalidField('format', 'must be ndjson or parquet.');
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type.includes('parquet') || type === 'application/octet-stream') return 'parquet';
  return 'ndjson';
}

export function registerImportRoutes(
  api: RestApi,
  deps: {
    admin: AdminService;
    ingest: IngestBuffer;
    events: DuckDbEventStore;
    sessionizer: Sessionizer;
    dataDir: string;
  },
): void {
  api.raw(
    'POST',
    '/audex/v1/{parent=properties/*}:import',
    async (req, res, { params, query, authenticate }) => {
      try {
        const principal = await authenticate();
        const property = await deps.admin.property(principal, params.parent, 'parent', 'editor');
        const format = formatOf(req, query);
        const result =
          format === 'ndjson'
            ? await importNdjson(req, property.id, property.time_zone, deps)
            : await importParquet(req, property.id, property.time_zone, deps);
        sendJson(res, 200, result);
      } catch (err) {
        req.resume();
        sendError(res, toApiError(err));
      }
    },
  );
}

async function importNdjson(
  req: IncomingMessage,
  propertyId: number,
  timeZone: string,
  deps: { ingest: IngestBuffer; sessionizer: Sessionizer },
): Promise<ImportResult> {
  const ctx = { propertyId: BigInt(propertyId), streamId: '', timeZone, nowMicros: nowMicros() };
  let imported = 0;
  let rejected = 0;
  const reported: NdjsonError[] = [];
  // One batch is stored while the next is parsed (parsing and the append's commit overlap); a
  // batch counts as imported once its append has resolved. A failed append ends the import with
  // that error; the batches before it stay stored, as the report's count says.
  let storing: Promise<void> = Promise.resolve();
  for await (const batch of parseNdjson(req, ctx, { sessionizer: deps.sessionizer })) {
    rejected += batch.errors.length;
    for (const e of batch.errors) if (reported.length < MAX_REPORTED_ERRORS) reported.push(e);
    if (batch.events.length > 0) {
      await storing;
      const n = batch.events.length;
      storing = deps.ingest.submit(batch.events).then(() => {
        imported += n;
      });
      // Keeps an early failure from surfacing as an unhandled rejection while parsing goes on.
      storing.catch(() => undefined);
    }
  }
  await storing;
  return { importedRows: imported, rejectedRows: rejected, errors: reported };
}

async function importParquet(
  req: IncomingMessage,
  propertyId: number,
  timeZone: string,
  deps: { events: DuckDbEventStore; dataDir: string },
): Promise<ImportResult> {
  const dir = join(deps.dataDir, 'import-tmp');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${randomUUID()}.parquet`);
  try {
    await pipeline(req, createWriteStream(file));
    const report = await deps.events
      .importFileReport(BigInt(propertyId), file, 'parquet', timeZone)
      .catch((err: unknown) => {
        // Out of memory, disk or engine: the server's trouble, not the file's (retriable).
        if (isStorageError(err) && err.isRetriable) throw toApiError(err);
        const reason = (err as Error).message.replace(/^duckdb: /, '');
        throw errors.invalidArgument(
          `The Parquet file could not be imported: ${withoutPaths(reason, [file, deps.dataDir], 'the upload')}`,
        );
      });
    return {
      importedRows: report.stored,
      rejectedRows: report.rejected,
      errors: report.examples.map((e) => ({ row: e.row, message: e.reason })),
    };
  } finally {
    await rm(file, { force: true });
  }
}
