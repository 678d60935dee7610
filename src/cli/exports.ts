// `audex exports create|get|list|query|download`: a client of the Data API v1beta audience exports
// (POST /v1beta/{parent}/audienceExports, GET /v1beta/{name}, GET /v1beta/{parent}/audienceExports,
// POST /v1beta/{name}:query), written against Google's wire contract.
// `download` streams the server's download endpoint (GET /audex/v1/{name}:download?format=…) into
// the file as bytes arrive (bounded memory); the server writes CSV, NDJSON and Parquet.

import { createWriteStream } from 'node:fs';
import { rm, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ApiClientError, type AudexClient } from './client.ts';
import { printTable } from './output.ts';
import { progress, phaseReporter } from './progress.ts';
import {
  clientCommand,
  clientOf,
  examples,
  integer,
  nameArgument,
  names,
  oneOf,
  output,
  setExit,
  usageError,
} from './program.ts';

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

export const DIMENSION_NAMES = ['deviceId', 'isAdsPersonalizationAllowed', 'isLimitedAdTracking', 'userId'];
const STATE_NAMES = ['STATE_UNSPECIFIED', 'CREATING', 'ACTIVE', 'FAILED'];
export const MAX_QUERY_LIMIT = 250_000;

/** Enum names whatever the server sent (names, or numbers under enum-encoding=int). */
export function stateName(state: string | number | undefined): string {
  if (state === undefined) return 'STATE_UNSPECIFIED';
  return typeof state === 'number' ? (STATE_NAMES[state] ?? String(state)) : state;
}

export function dimensionsOf(e: { dimensions?: { dimensionName: string }[] } | undefined): string[] {
  return (e?.dimensions ?? []).map((d) => d.dimensionName);
}

/** The property of `properties/P/...`. */
export function propertyOf(name: string): string | undefined {
  return /^(properties\/[^/]+)\//.exec(name)?.[1];
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
  opts: { timeoutMs?: number; onProgress?: (percent: number, state: string) => void } = {},
): Promise<AudienceExportJson> {
  const deadline = Date.now() + (opts.timeoutMs ?? 3_600_000);
  let delay = 200;
  for (;;) {
    const e = await getExport(api, name);
    const state = stateName(e.state);
    if (state === 'ACTIVE' || state === 'FAILED') {
      opts.onProgress?.(state === 'ACTIVE' ? 100 : (e.percentageCompleted ?? 0), state);
      return e;
    }
    opts.onProgress?.(e.percentageCompleted ?? 0, state);
    if (Date.now() > deadline)
      throw new ApiClientError(0, 'DEADLINE_EXCEEDED', `${name} is still ${state} after the --timeout`);
    await sleep(delay);
    delay = Math.min(delay * 1.5, 2000);
  }
}

// ---------------------------------------------------------------------------------------------
// Download

export type DownloadFormat = 'csv' | 'ndjson' | 'parquet';

export interface DownloadResult {
  name: string;
  format: DownloadFormat;
  out: string;
  dimensions: string[];
  /** The export's rowCount, as the server announced it (x-audex-row-count). */
  rowCount: number;
  /** Records counted in the bytes received (CSV and NDJSON); for Parquet, the announced count. */
  rowsWritten: number;
  bytes: number;
}

/**
 * Counts records as bytes stream past: NDJSON lines, or CSV records (line ends outside quoted
 * fields; a doubled quote toggles twice, so it needs no special case). Byte-wise is safe in UTF-8,
 * where '"' and LF never occur inside a multi-byte character.
 */
function recordCounter(format: 'csv' | 'ndjson') {
  let quoted = false;
  let records = 0;
  return {
    feed(chunk: Uint8Array): void {
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (b === 0x22 && format === 'csv') quoted = !quoted;
        else if (b === 0x0a && !quoted) records++;
      }
    },
    get records() {
      return records;
    },
  };
}

/**
 * Streams an ACTIVE export into `out` from the server's download endpoint
 * (GET /audex/v1/{name}:download?format=…; the same bytes a browser or curl gets). The file
 * appears only when complete (written to a temporary name first) and is dropped if the rows
 * received differ from the export's rowCount.
 */
export async function downloadExport(
  api: AudexClient,
  name: string,
  opts: {
    format: DownloadFormat;
    out: string;
    onProgress?: (done: number, total: number) => void;
  },
): Promise<DownloadResult> {
  const res = await api.stream('GET', `/audex/v1/${name}:download?format=${opts.format}`);
  const rowCount = Number(res.headers.get('x-audex-row-count') ?? NaN);
  if (!Number.isSafeInteger(rowCount) || !res.body)
    throw new ApiClientError(0, 'UNKNOWN', `the server's download of ${name} has no x-audex-row-count`);
  const byteLength = Number(res.headers.get('content-length') ?? NaN);
  const partial = join(dirname(opts.out), `.${basename(opts.out)}.${process.pid}.${Date.now()}.part`);
  const counter = opts.format === 'parquet' ? null : recordCounter(opts.format);
  const header = opts.format === 'csv' ? 1 : 0;
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      counter?.feed(chunk);
      if (counter) opts.onProgress?.(Math.max(0, counter.records - header), rowCount);
      else if (Number.isFinite(byteLength)) opts.onProgress?.(bytes, byteLength);
      done(null, chunk);
    },
  });
  let head = ''; // the first bytes: the CSV header or first NDJSON object name the dimensions
  const keepHead = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (head.length < 4096) head += chunk.subarray(0, 4096).toString('utf8');
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
      count,
      keepHead,
      createWriteStream(partial, { highWaterMark: 1 << 20 }),
    );
    const rowsWritten = counter ? counter.records - header : rowCount;
    if (rowsWritten !== rowCount)
      throw new ApiClientError(
        0,
        'DATA_LOSS',
        `received ${rowsWritten} rows but the export has rowCount ${rowCount}; the file was not kept`,
      );
    if (Number.isFinite(byteLength) && bytes !== byteLength)
      throw new ApiClientError(
        0,
        'DATA_LOSS',
        `received ${bytes} of ${byteLength} bytes; the file was not kept`,
      );
    if (!counter) opts.onProgress?.(rowCount, rowCount);
    await rename(partial, opts.out);
    return {
      name,
      format: opts.format,
      out: opts.out,
      dimensions: dimensionsFromHead(opts.format, head) ?? dimensionsOf(await getExport(api, name)),
      rowCount,
      rowsWritten,
      bytes,
    };
  } catch (err) {
    await rm(partial, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code))
      throw new ApiClientError(0, code, `cannot write ${opts.out}: ${(err as Error).message}`);
    if (err instanceof ApiClientError) throw err;
    throw new ApiClientError(
      0,
      'UNAVAILABLE',
      `the download of ${name} broke off: ${(err as Error).message}`,
    );
  }
}

/** The dimensions named by a CSV header or the first NDJSON object (Parquet: undefined). */
function dimensionsFromHead(format: DownloadFormat, head: string): string[] | undefined {
  const line = head.split('\n')[0]!.replace(/\r$/, '');
  if (!line || !head.includes('\n')) return undefined;
  if (format === 'csv') return line.split(','); // dimension names never need quoting
  if (format === 'ndjson') return Object.keys(JSON.parse(line) as object);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The commands

function printExport(e: AudienceExportJson): void {
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
  );
}

/** --dimensions: a comma-separated list of the four export dimensions. */
export function dimensionList(value: string): string[] {
  const dims = value
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean);
  const unknown = dims.filter((d) => !DIMENSION_NAMES.includes(d));
  if (unknown.length > 0 || dims.length === 0)
    throw new InvalidArgumentError(
      `${unknown.length ? `unknown dimension ${unknown.join(', ')}; ` : ''}takes a comma-separated list of ${DIMENSION_NAMES.join(', ')}.`,
    );
  return dims;
}

/** Polls an export (or audience list) until it ends, printing the job's phases on stderr. */
export async function waitAndReport(
  cmd: Command,
  name: string,
  get: (name: string) => Promise<AudienceExportJson>,
  timeoutSeconds: number | undefined,
): Promise<AudienceExportJson> {
  const report = phaseReporter(name);
  const deadline = Date.now() + (timeoutSeconds ?? 3600) * 1000;
  let delay = 200;
  try {
    for (;;) {
      const e = await get(name);
      const state = stateName(e.state);
      report.update(state, state === 'ACTIVE' ? 100 : (e.percentageCompleted ?? 0));
      if (state === 'ACTIVE' || state === 'FAILED') return e;
      if (Date.now() > deadline)
        throw new ApiClientError(0, 'DEADLINE_EXCEEDED', `${name} is still ${state} after the --timeout`);
      await sleep(delay);
      delay = Math.min(delay * 1.5, 2000);
    }
  } finally {
    report.stop();
  }
}

/** After --wait: the final resource under --json, else one line; exit 1 when it FAILED. */
export function reportFinal(cmd: Command, name: string, final: AudienceExportJson): void {
  if (cmd.opts<{ json?: boolean }>().json) process.stdout.write(JSON.stringify(final, null, 2) + '\n');
  if (stateName(final.state) === 'FAILED') {
    process.stderr.write(`audex: ${name} FAILED: ${final.errorMessage ?? '(no error message)'}\n`);
    setExit(1);
    return;
  }
  if (!cmd.opts<{ json?: boolean }>().json)
    process.stderr.write(`${name} is ACTIVE with ${final.rowCount ?? 0} rows.\n`);
}

export function registerExports(program: Command): void {
  const exportsCmd = program
    .command('exports')
    .description('audience exports (Data API v1beta): create, follow, read and download');

  clientCommand(exportsCmd, 'create', 'create an audience export (a snapshot of the audience now)')
    .addOption(
      new Option('--audience <audience>', 'properties/P/audiences/A')
        .argParser(names.audience)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--property <property>', "properties/P (default: the audience's)").argParser(names.property),
    )
    .addOption(
      new Option('--dimensions <list>', `comma-separated: ${DIMENSION_NAMES.join(', ')}`)
        .argParser(dimensionList)
        .default(['deviceId'], 'deviceId'),
    )
    .option('--wait', "poll until ACTIVE or FAILED, showing the job's phases; exit 1 if it FAILED")
    .addOption(new Option('--timeout <seconds>', 'give up waiting after this long').argParser(integer(1)))
    .addHelpText(
      'after',
      examples(
        'audex exports create --audience properties/1/audiences/3 --dimensions deviceId,userId --wait',
        'audex exports create --audience properties/1/audiences/3 --json   # the long-running operation',
      ),
    )
    .action(
      async (
        o: {
          audience: string;
          property?: string;
          dimensions: string[];
          wait?: boolean;
          timeout?: number;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const property = o.property ?? propertyOf(o.audience)!;
        if (propertyOf(o.audience) !== property)
          usageError(cmd, `--audience ${o.audience} is not an audience of --property ${property}`);
        const api = clientOf(cmd);
        const { operation, name } = await createExport(api, property, o.audience, o.dimensions);
        if (!o.wait) {
          output(cmd, operation, () => process.stdout.write(name + '\n'));
          return;
        }
        if (!o.json) process.stdout.write(name + '\n');
        reportFinal(cmd, name, await waitAndReport(cmd, name, (n) => getExport(api, n), o.timeout));
      },
    );

  clientCommand(exportsCmd, 'get', 'show an export: state, progress, row count')
    .addArgument(nameArgument('audience-export', names.audienceExport))
    .action(async (name: string, _o, cmd: Command) => {
      const e = await getExport(clientOf(cmd), name);
      output(cmd, e, () => printExport(e));
    });

  clientCommand(exportsCmd, 'list', 'list the exports of a property (every page)')
    .addOption(
      new Option('--property <property>', 'properties/P').argParser(names.property).makeOptionMandatory(),
    )
    .addOption(new Option('--page-size <n>', 'rows per request').argParser(integer(1, 1000)).default(1000))
    .action(async (o: { property: string; pageSize: number }, cmd: Command) => {
      const all = await listExports(clientOf(cmd), o.property, o.pageSize);
      output(cmd, { audienceExports: all }, () =>
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
        ),
      );
    });

  clientCommand(exportsCmd, 'query', 'print rows of an ACTIVE export')
    .addArgument(nameArgument('audience-export', names.audienceExport))
    .addOption(new Option('--offset <n>', 'first row (0-based)').argParser(integer(0)).default(0))
    .addOption(new Option('--limit <n>', 'rows to print').argParser(integer(1, MAX_QUERY_LIMIT)))
    .addHelpText(
      'after',
      examples('audex exports query properties/1/audienceExports/4 --offset 0 --limit 20'),
    )
    .action(async (name: string, o: { offset: number; limit?: number }, cmd: Command) => {
      const res = await queryExport(clientOf(cmd), name, o.offset, o.limit);
      output(cmd, res, () => {
        const dims = dimensionsOf(res.audienceExport);
        const rows = (res.audienceRows ?? []).map((r) =>
          dims.map((_, i) => r.dimensionValues?.[i]?.value ?? ''),
        );
        printTable(dims, rows);
        const total = res.rowCount ?? 0;
        process.stderr.write(
          rows.length > 0
            ? `rows ${o.offset + 1}-${o.offset + rows.length} of ${total}\n`
            : `no rows at offset ${o.offset} (${total} in total)\n`,
        );
      });
    });

  clientCommand(exportsCmd, 'download', 'write every row of an ACTIVE export to a file')
    .addArgument(nameArgument('audience-export', names.audienceExport))
    .addOption(
      new Option('--format <format>', 'csv|ndjson|parquet')
        .argParser(oneOf(['csv', 'ndjson', 'parquet'] as const))
        .makeOptionMandatory(),
    )
    .requiredOption('--out <file>', 'the file to write (appears only when complete)')
    .addHelpText(
      'after',
      examples(
        'audex exports download properties/1/audienceExports/4 --format csv --out members.csv',
        '# the same bytes with curl: GET /audex/v1/properties/1/audienceExports/4:download?format=csv',
      ),
    )
    .action(async (name: string, o: { format: DownloadFormat; out: string }, cmd: Command) => {
      let bar: ReturnType<typeof progress> | null = null;
      let result: DownloadResult;
      try {
        result = await downloadExport(clientOf(cmd), name, {
          format: o.format,
          out: o.out,
          onProgress: (done, total) => {
            bar ??= progress(`downloading ${name}`, total, o.format === 'parquet' ? 'bytes' : 'rows');
            bar.update(done);
          },
        });
      } finally {
        (bar as ReturnType<typeof progress> | null)?.stop();
      }
      output(cmd, result, () =>
        process.stdout.write(
          `Wrote ${result.rowsWritten} rows (${result.dimensions.join(',')}) to ${result.out} as ${o.format}.\n`,
        ),
      );
    });
}
