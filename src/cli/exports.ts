// `audex exports create|get|list|query|download`: a client of the Data API v1beta audience exports
// (POST /v1beta/{parent}/audienceExports, GET /v1beta/{name}, GET /v1beta/{parent}/audienceExports,
// POST /v1beta/{name}:query), written against Google's wire contract.
// `download` pages through :query and writes each page to the file as it arrives (bounded memory);
// Parquet goes through a temporary NDJSON file converted by DuckDB (ndjsonToParquet, src/storage/).

import { createWriteStream, type WriteStream } from 'node:fs';
import { rm, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { ApiClientError, type AudexClient } from './client.ts';
import { printTable } from './output.ts';
import { progress } from './progress.ts';

export interface AudienceExportJson {
  name: string;
  audience: string;
  audienceDisplayName?: string;
  dimensions: { dimensionName: string }[];
  state?: string | number;
  beginCreatingTime?: string;
  creationQuotaTokensCharged?: number;
  rowCount?: number;
  errorMessage?: string;
  percentageCompleted?: number;
}

export interface QueryResponseJson {
  audienceExport?: AudienceExportJson;
  audienceRows?: { dimensionValues?: { value?: string }[] }[];
  rowCount?: number;
}

interface OperationJson {
  name?: string;
  done?: boolean;
  response?: AudienceExportJson;
}

export interface ExportsDeps {
  client(values: { server?: string | undefined; key?: string | undefined }): AudexClient;
  /** Makes the error main.ts reports with the usage text (exit 2). */
  usageError(message: string): Error;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

export const DIMENSION_NAMES = ['deviceId', 'isAdsPersonalizationAllowed', 'isLimitedAdTracking', 'userId'];
const STATE_NAMES = ['STATE_UNSPECIFIED', 'CREATING', 'ACTIVE', 'FAILED'];
const MAX_QUERY_LIMIT = 250_000;

/** Enum names whatever the server sent (names, or numbers under enum-encoding=int). */
export function stateName(state: string | number | undefined): string {
  if (state === undefined) return 'STATE_UNSPECIFIED';
  return typeof state === 'number' ? (STATE_NAMES[state] ?? String(state)) : state;
}

export function dimensionsOf(e: { dimensions?: { dimensionName: string }[] } | undefined): string[] {
  return (e?.dimensions ?? []).map((d) => d.dimensionName);
}

/** The property of `properties/P/...`. */
function propertyOf(name: string): string | undefined {
  return /^(properties\/[^/]+)\//.exec(name)?.[1];
}

function checkExportName(name: string | undefined, deps: ExportsDeps, sub: string): string {
  if (!name) throw deps.usageError(`exports ${sub} needs an export name (properties/P/audienceExports/E)`);
  if (!/^properties\/[^/]+\/audienceExports\/[^/:]+$/.test(name))
    throw deps.usageError(`"${name}" is not an export name (properties/P/audienceExports/E)`);
  return name;
}

function positiveInt(
  value: string | undefined,
  flag: string,
  deps: ExportsDeps,
  min = 1,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min)
    throw deps.usageError(`${flag} must be an integer >= ${min}`);
  return Number(value);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// API calls

export async function createExport(
  api: AudexClient,
  property: string,
  audience: string,
  dimensions: string[],
) {
  const op = await api.call<OperationJson>('POST', `/v1beta/${property}/audienceExports`, {
    audience,
    dimensions: dimensions.map((dimensionName) => ({ dimensionName })),
  });
  const name = op.response?.name;
  if (!name) throw new Error(`the server's operation has no response.name: ${JSON.stringify(op)}`);
  return { operation: op, name };
}

export function getExport(api: AudexClient, name: string): Promise<AudienceExportJson> {
  return api.call<AudienceExportJson>('GET', `/v1beta/${name}`);
}

/** Every export of a property, following nextPageToken. */
export async function listExports(
  api: AudexClient,
  property: string,
  pageSize = 1000,
): Promise<AudienceExportJson[]> {
  const all: AudienceExportJson[] = [];
  let token: string | undefined;
  do {
    const qs = new URLSearchParams({ pageSize: String(pageSize), ...(token ? { pageToken: token } : {}) });
    const page = await api.call<{ audienceExports?: AudienceExportJson[]; nextPageToken?: string }>(
      'GET',
      `/v1beta/${property}/audienceExports?${qs}`,
    );
    all.push(...(page.audienceExports ?? []));
    token = page.nextPageToken || undefined;
  } while (token);
  return all;
}

export function queryExport(
  api: AudexClient,
  name: string,
  offset: number,
  limit?: number,
): Promise<QueryResponseJson> {
  return api.call<QueryResponseJson>('POST', `/v1beta/${name}:query`, {
    offset: String(offset),
    ...(limit !== undefined ? { limit: String(limit) } : {}),
  });
}

/** Polls GetAudienceExport until ACTIVE or FAILED, reporting percentageCompleted. */
export async function waitForExport(
  api: AudexClient,
  name: string,
  opts: { timeoutMs?: number; onProgress?: (percent: number) => void } = {},
): Promise<AudienceExportJson> {
  const deadline = Date.now() + (opts.timeoutMs ?? 3_600_000);
  let delay = 200;
  for (;;) {
    const e = await getExport(api, name);
    const state = stateName(e.state);
    if (state === 'ACTIVE' || state === 'FAILED') {
      if (state === 'ACTIVE') opts.onProgress?.(100);
      return e;
    }
    opts.onProgress?.(e.percentageCompleted ?? 0);
    if (Date.now() > deadline)
      throw new ApiClientError(0, 'DEADLINE_EXCEEDED', `${name} is still ${state} after the --timeout`);
    await sleep(delay);
    delay = Math.min(delay * 1.5, 2000);
  }
}

// ---------------------------------------------------------------------------------------------
// Download

/** One CSV field per RFC 4180: quoted when it holds a comma, a quote, CR or LF; quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function csvLine(values: string[]): string {
  return values.map(csvField).join(',') + '\r\n';
}

export type DownloadFormat = 'csv' | 'ndjson' | 'parquet';

export interface DownloadResult {
  name: string;
  format: DownloadFormat;
  out: string;
  dimensions: string[];
  rowCount: number;
  rowsWritten: number;
  pages: number;
}

async function write(stream: WriteStream, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

async function closeStream(stream: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

/**
 * Streams every row of an ACTIVE export into `out`: one :query page at a time, each written before
 * the next is fetched. The file appears only when complete (written to a temporary name first).
 * Fails if the rows written differ from the export's rowCount.
 */
export async function downloadExport(
  api: AudexClient,
  name: string,
  opts: {
    format: DownloadFormat;
    out: string;
    pageSize?: number;
    onProgress?: (rows: number, total: number) => void;
  },
): Promise<DownloadResult> {
  const exp = await getExport(api, name);
  const state = stateName(exp.state);
  if (state !== 'ACTIVE')
    throw new ApiClientError(
      0,
      'FAILED_PRECONDITION',
      `${name} is ${state}${exp.errorMessage ? ` (${exp.errorMessage})` : ''}; only an ACTIVE export can be downloaded`,
    );
  const dims = dimensionsOf(exp);
  const pageSize = Math.min(opts.pageSize ?? MAX_QUERY_LIMIT, MAX_QUERY_LIMIT);
  const tag = `.${basename(opts.out)}.${process.pid}.${Date.now()}`;
  const partial = join(dirname(opts.out), `${tag}.part`);
  // Parquet: rows go to NDJSON first, then DuckDB converts the file.
  const textFile = opts.format === 'parquet' ? join(dirname(opts.out), `${tag}.ndjson`) : partial;
  const stream = createWriteStream(textFile, { highWaterMark: 1 << 20 });
  const streamFailed = new Promise<never>((_, reject) => stream.once('error', reject));
  streamFailed.catch(() => {});
  let rowsWritten = 0;
  let pages = 0;
  let rowCount = exp.rowCount ?? 0;
  try {
    if (opts.format === 'csv') await write(stream, csvLine(dims));
    for (;;) {
      const page = await Promise.race([queryExport(api, name, rowsWritten, pageSize), streamFailed]);
      pages++;
      rowCount = page.rowCount ?? rowCount;
      const rows = page.audienceRows ?? [];
      if (rows.length === 0) break;
      let chunk = '';
      for (const row of rows) {
        const values = dims.map((_, i) => row.dimensionValues?.[i]?.value ?? '');
        if (opts.format === 'csv') chunk += csvLine(values);
        else chunk += JSON.stringify(Object.fromEntries(dims.map((d, i) => [d, values[i]]))) + '\n';
        // Flush in ~1 MB pieces so a 250k-row page never becomes one giant string.
        if (chunk.length >= 1 << 20) {
          await write(stream, chunk);
          chunk = '';
        }
      }
      if (chunk) await write(stream, chunk);
      rowsWritten += rows.length;
      opts.onProgress?.(rowsWritten, rowCount);
      if (rowsWritten >= rowCount) break;
    }
    await Promise.race([closeStream(stream), streamFailed]);
    if (rowsWritten !== rowCount)
      throw new ApiClientError(
        0,
        'DATA_LOSS',
        `wrote ${rowsWritten} rows but the export has rowCount ${rowCount}; the file was not kept`,
      );
    if (opts.format === 'parquet') {
      const { ndjsonToParquet } = await import('../storage/index.ts');
      const converted = await ndjsonToParquet(textFile, partial, dims);
      if (converted !== rowsWritten)
        throw new Error(`the Parquet file has ${converted} rows, expected ${rowsWritten}`);
    }
    await rename(partial, opts.out);
  } catch (err) {
    stream.destroy();
    await rm(partial, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code))
      throw new ApiClientError(0, code, `cannot write ${opts.out}: ${(err as Error).message}`);
    throw err;
  } finally {
    if (textFile !== partial) await rm(textFile, { force: true });
  }
  return { name, format: opts.format, out: opts.out, dimensions: dims, rowCount, rowsWritten, pages };
}

// ---------------------------------------------------------------------------------------------
// The command

const clientOptions = {
  server: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
} as const;

function printExport(e: AudienceExportJson, out: NodeJS.WritableStream): void {
  printTable(
    ['FIELD', 'VALUE'],
    [
      ['name', e.name],
      ['audience', e.audience],
      ['audienceDisplayName', e.audienceDisplayName ?? ''],
      ['dimensions', dimensionsOf(e).join(',')],
      ['state', stateName(e.state)],
      ['beginCreatingTime', e.beginCreatingTime ?? ''],
      ['percentageCompleted', e.percentageCompleted === undefined ? '' : String(e.percentageCompleted)],
      ['rowCount', e.rowCount === undefined ? '' : String(e.rowCount)],
      ['creationQuotaTokensCharged', String(e.creationQuotaTokensCharged ?? 0)],
      ...(e.errorMessage ? [['errorMessage', e.errorMessage]] : []),
    ],
    out,
  );
}

export const EXPORTS_USAGE = `  audex exports create --audience properties/P/audiences/A [--property properties/P] [--dimensions deviceId,userId] [--wait]
  audex exports get properties/P/audienceExports/E
  audex exports list --property properties/P [--page-size 1000]
  audex exports query properties/P/audienceExports/E [--offset 0] [--limit 10000]
  audex exports download properties/P/audienceExports/E --format csv|ndjson|parquet --out FILE [--page-size 250000]`;

export async function exportsCommand(args: string[], deps: ExportsDeps): Promise<number> {
  const out = deps.out ?? process.stdout;
  const errOut = deps.err ?? process.stderr;
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      ...clientOptions,
      property: { type: 'string' },
      audience: { type: 'string' },
      dimensions: { type: 'string' },
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
      offset: { type: 'string' },
      limit: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      'page-size': { type: 'string' },
    },
    allowPositionals: true,
  });
  const json = (data: unknown) => out.write(JSON.stringify(data, null, 2) + '\n');

  if (sub === 'create') {
    if (!values.audience) throw deps.usageError('exports create needs --audience properties/P/audiences/A');
    const property = values.property ?? propertyOf(values.audience);
    if (!property) throw deps.usageError('exports create needs --property properties/P');
    const dimensions = (values.dimensions ?? 'deviceId')
      .split(',')
      .map((d) => d.trim())
      .filter(Boolean);
    const unknown = dimensions.filter((d) => !DIMENSION_NAMES.includes(d));
    if (unknown.length > 0 || dimensions.length === 0)
      throw deps.usageError(`--dimensions takes a comma-separated list of ${DIMENSION_NAMES.join(', ')}`);
    const timeout = positiveInt(values.timeout, '--timeout', deps);
    const api = deps.client(values);
    const { operation, name } = await createExport(api, property, values.audience, dimensions);
    if (!values.wait) {
      if (values.json) json(operation);
      else out.write(name + '\n');
      return 0;
    }
    if (!values.json) out.write(name + '\n');
    const bar = progress(`creating ${name}`, 100, '%');
    let final: AudienceExportJson;
    try {
      final = await waitForExport(api, name, {
        ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
        onProgress: (p) => bar.update(Math.round(p)),
      });
    } finally {
      bar.stop();
    }
    if (values.json) json(final);
    if (stateName(final.state) === 'FAILED') {
      errOut.write(`audex: ${name} FAILED: ${final.errorMessage ?? '(no error message)'}\n`);
      return 1;
    }
    if (!values.json) errOut.write(`${name} is ACTIVE with ${final.rowCount ?? 0} rows.\n`);
    return 0;
  }

  if (sub === 'get') {
    const name = checkExportName(positionals[0], deps, 'get');
    const e = await getExport(deps.client(values), name);
    if (values.json) json(e);
    else printExport(e, out);
    return 0;
  }

  if (sub === 'list') {
    if (!values.property) throw deps.usageError('exports list needs --property properties/P');
    const pageSize = positiveInt(values['page-size'], '--page-size', deps);
    const all = await listExports(deps.client(values), values.property, pageSize);
    if (values.json) json({ audienceExports: all });
    else
      printTable(
        ['NAME', 'AUDIENCE', 'DISPLAY NAME', 'DIMENSIONS', 'STATE', 'ROWS', 'CREATED'],
        all.map((e) => [
          e.name,
          e.audience,
          e.audienceDisplayName ?? '',
          dimensionsOf(e).join(','),
          stateName(e.state) === 'CREATING'
            ? `CREATING ${Math.round(e.percentageCompleted ?? 0)}%`
            : stateName(e.state),
          e.rowCount === undefined ? '' : String(e.rowCount),
          e.beginCreatingTime ?? '',
        ]),
        out,
      );
    return 0;
  }

  if (sub === 'query') {
    const name = checkExportName(positionals[0], deps, 'query');
    const offset = positiveInt(values.offset, '--offset', deps, 0) ?? 0;
    const limit = positiveInt(values.limit, '--limit', deps);
    const res = await queryExport(deps.client(values), name, offset, limit);
    if (values.json) {
      json(res);
      return 0;
    }
    const dims = dimensionsOf(res.audienceExport);
    const rows = (res.audienceRows ?? []).map((r) => dims.map((_, i) => r.dimensionValues?.[i]?.value ?? ''));
    printTable(dims, rows, out);
    const total = res.rowCount ?? 0;
    errOut.write(
      rows.length > 0
        ? `rows ${offset + 1}-${offset + rows.length} of ${total}\n`
        : `no rows at offset ${offset} (${total} in total)\n`,
    );
    return 0;
  }

  if (sub === 'download') {
    const name = checkExportName(positionals[0], deps, 'download');
    const format = values.format;
    if (format !== 'csv' && format !== 'ndjson' && format !== 'parquet')
      throw deps.usageError('exports download needs --format csv|ndjson|parquet');
    if (!values.out) throw deps.usageError('exports download needs --out FILE');
    const pageSize = positiveInt(values['page-size'], '--page-size', deps);
    if (pageSize !== undefined && pageSize > MAX_QUERY_LIMIT)
      throw deps.usageError(`--page-size is at most ${MAX_QUERY_LIMIT}`);
    let bar: ReturnType<typeof progress> | null = null;
    let result: DownloadResult;
    try {
      result = await downloadExport(deps.client(values), name, {
        format,
        out: values.out,
        ...(pageSize !== undefined ? { pageSize } : {}),
        onProgress: (rows, total) => {
          bar ??= progress(`downloading ${name}`, total, 'rows');
          bar.update(rows);
        },
      });
    } finally {
      (bar as ReturnType<typeof progress> | null)?.stop();
    }
    if (values.json) json(result);
    else
      out.write(
        `Wrote ${result.rowsWritten} rows (${result.dimensions.join(',')}) to ${result.out} as ${format}.\n`,
      );
    return 0;
  }

  throw deps.usageError(`unknown exports command ${sub ?? ''}`);
}
