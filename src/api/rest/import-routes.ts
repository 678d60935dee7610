// Bulk import of GA4 BigQuery-export rows (an audex extension):
//   POST /audex/v1/properties/{p}:import   Content-Type: application/x-ndjson | application/vnd.apache.parquet
// Every import is all or nothing: NDJSON is parsed as it streams in (bounded memory) into a
// staging table and committed in one step at the end (src/storage/duckdb/staged-import.ts);
// Parquet is spooled to a file in the data folder and loaded by the engine in one transaction.
// Invalid rows are reported (NDJSON by line number) while the valid ones are stored. A client may
// name its import with `?importId=` (1-64 of A-Z a-z 0-9 _ -): the same id never stores rows
// twice, and a repeated request answers with the first one's result, so a client that lost the
// answer (a reset connection, a server restart) simply sends the file again. Both paths map rows the same way (see
// src/ingest/import/README.md; rows without event_date are dated in the property's time zone),
// with one difference: NDJSON rows without ga_session_id are sessionised by the 30-minute rule
// as they stream through the shared Sessionizer, while a Parquet load, one SQL
// statement, stores them without a session. Editor role.

import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import type { AdminService } from '../service/admin.ts';
import type { Sessionizer } from '../../ingest/sessionizer.ts';
import type { EventStore, ImportReport } from '../../storage/contract.ts';
import { parseNdjson, type NdjsonError } from '../../ingest/import/ndjson.ts';
import { ApiError, errors, toApiError, withoutPaths } from '../../domain/errors.ts';
import { isStorageError } from '../../storage/errors.ts';
import { nowMicros } from '../../domain/time.ts';
import { sendError, sendJson, type RestApi } from './http-server.ts';

const MAX_REPORTED_ERRORS = 100;

export interface ImportResult {
  /** The client's importId, when it sent one. */
  importId?: string;
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

const IMPORT_ID = /^[A-Za-z0-9_-]{1,64}$/;

function importIdOf(query: URLSearchParams): string | null {
  const id = query.get('importId');
  if (id === null) return null;
  if (!IMPORT_ID.test(id))
    throw errors.invalidField('importId', 'must be 1 to 64 of A-Z, a-z, 0-9, _ and -.');
  return id;
}

type ImportDeps = {
  admin: AdminService;
  events: EventStore;
  sessionizer: Sessionizer;
  dataDir: string;
  /** Throws RESOURCE_EXHAUSTED while the process is over its memory budget (memory-budget.ts). */
  admit?: () => void;
};

/**
 * At start, before any import runs: spooled Parquet uploads and staging tables left by imports a
 * crash interrupted belong to no one (their clients got no answer and send them again).
 */
export async function sweepImportLeftovers(
  dataDir: string,
  events: EventStore,
): Promise<{ files: number; stages: number; moves: number }> {
  const dir = join(dataDir, 'import-tmp');
  let files = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    await rm(join(dir, name), { force: true, recursive: true });
    files++;
  }
  return { files, ...(await events.recoverInterruptedImports()) };
}

export function registerImportRoutes(api: RestApi, deps: ImportDeps): void {
  // importIds with a request under way in this process: a twin waits for no one, it is told to retry.
  const running = new Set<string>();
  api.raw(
    'POST',
    '/audex/v1/{parent=properties/*}:import',
    async (req, res, { params, query, authenticate }) => {
      let key: string | null = null;
      try {
        const principal = await authenticate();
        const property = await deps.admin.property(principal, params.parent, 'parent', 'editor');
        deps.admit?.();
        const format = formatOf(req, query);
        const importId = importIdOf(query);
        const pid = BigInt(property.id);
        if (importId !== null) {
          if (running.has(`${pid}/${importId}`))
            throw new ApiError(
              'ABORTED',
              `An import with importId ${importId} is under way; retry once it has ended.`,
            );
          key = `${pid}/${importId}`;
          running.add(key);
          // After a crash, this also settles the import's half-done move (ClickHouse).
          const first = await deps.events.importResult(pid, importId);
          if (first !== null) {
            // Read the (unused) upload to its end: answering mid-upload makes clients see a reset.
            await drain(req);
            return sendJson(res, 200, JSON.parse(first));
          }
        }
        const ctx = { propertyId: property.id, timeZone: property.time_zone, importId };
        const result =
          format === 'ndjson' ? await importNdjson(req, ctx, deps) : await importParquet(req, ctx, deps);
        sendJson(res, 200, result);
      } catch (err) {
        req.resume();
        sendError(res, toApiError(err));
      } finally {
        if (key !== null) running.delete(key);
      }
    },
  );
}

function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (req.complete) return resolve();
    req
      .once('end', resolve)
      .once('close', resolve)
      .once('error', () => resolve());
    req.resume();
  });
}

interface ImportContext {
  propertyId: number;
  timeZone: string;
  importId: string | null;
}

function resultJson(ctx: ImportContext, r: Omit<ImportResult, 'importId'>): ImportResult {
  return ctx.importId === null ? r : { importId: ctx.importId, ...r };
}

/** When a twin request with the same importId committed first (err: its key), that result. */
async function firstResult(deps: ImportDeps, ctx: ImportContext, err: unknown): Promise<ImportResult | null> {
  if (ctx.importId === null || !isStorageError(err) || err.kind !== 'constraint') return null;
  const first = await deps.events.importResult(BigInt(ctx.propertyId), ctx.importId);
  return first === null ? null : (JSON.parse(first) as ImportResult);
}

async function importNdjson(
  req: IncomingMessage,
  ctx: ImportContext,
  deps: ImportDeps,
): Promise<ImportResult> {
  const parseCtx = {
    propertyId: BigInt(ctx.propertyId),
    streamId: '',
    timeZone: ctx.timeZone,
    nowMicros: nowMicros(),
  };
  let staged = 0;
  let rejected = 0;
  const reported: NdjsonError[] = [];
  const stage = await deps.events.openStage();
  try {
    // Nothing is visible to anyone until the commit below. A store that parses on its own
    // threads (DuckDB) takes the upload whole; otherwise one batch is staged while the next is
    // parsed (parsing and the append overlap).
    let storing: Promise<void> = Promise.resolve();
    if (deps.events.stageNdjson) {
      const r = await deps.events.stageNdjson(stage, req, parseCtx, {
        sessionizer: deps.sessionizer,
        maxErrors: MAX_REPORTED_ERRORS,
      });
      staged = r.staged;
      rejected = r.rejected;
      reported.push(...r.errors);
    } else
      for await (const batch of parseNdjson(req, parseCtx, { sessionizer: deps.sessionizer })) {
        rejected += batch.errors.length;
        for (const e of batch.errors) if (reported.length < MAX_REPORTED_ERRORS) reported.push(e);
        if (batch.events.length > 0) {
          await storing;
          storing = deps.events.stageAppend(stage, batch.events, staged);
          staged += batch.events.length;
          // Keeps an early failure from surfacing as an unhandled rejection while parsing goes on.
          storing.catch(() => undefined);
        }
      }
    await storing;
    const result = (imported: number) =>
      resultJson(ctx, { importedRows: imported, rejectedRows: rejected, errors: reported });
    try {
      const stored = await deps.events.commitStage(stage, BigInt(ctx.propertyId), ctx.importId, (n) =>
        JSON.stringify(result(n)),
      );
      return result(stored);
    } catch (err) {
      const first = await firstResult(deps, ctx, err);
      if (first === null) throw err;
      return first;
    }
  } finally {
    // Gone already after a commit; otherwise the staged rows are dropped, never stored.
    await deps.events.discardStage(stage).catch(() => undefined);
  }
}

async function importParquet(
  req: IncomingMessage,
  ctx: ImportContext,
  deps: ImportDeps,
): Promise<ImportResult> {
  if (!deps.events.importFileReport)
    throw errors.unimplemented('This storage backend cannot import Parquet files.');
  const dir = join(deps.dataDir, 'import-tmp');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${randomUUID()}.parquet`);
  const toResult = (report: ImportReport) =>
    resultJson(ctx, {
      importedRows: report.stored,
      rejectedRows: report.rejected,
      errors: report.examples.map((e) => ({ row: e.row, message: e.reason })),
    });
  try {
    await pipeline(req, createWriteStream(file));
    const ledger =
      ctx.importId === null
        ? undefined
        : { importId: ctx.importId, render: (r: ImportReport) => JSON.stringify(toResult(r)) };
    let report: ImportReport;
    try {
      report = await deps.events.importFileReport(
        BigInt(ctx.propertyId),
        file,
        'parquet',
        ctx.timeZone,
        ledger,
      );
    } catch (err) {
      const first = await firstResult(deps, ctx, err);
      if (first !== null) return first;
      // Out of memory, disk or engine: the server's trouble, not the file's (retriable).
      if (isStorageError(err) && err.isRetriable) throw toApiError(err);
      const reason = (err as Error).message.replace(/^duckdb: /, '');
      throw errors.invalidArgument(
        `The Parquet file could not be imported: ${withoutPaths(reason, [file, deps.dataDir], 'the upload')}`,
      );
    }
    return toResult(report);
  } finally {
    await rm(file, { force: true });
  }
}
