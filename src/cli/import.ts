// `audex import --property properties/P FILE`: streams an NDJSON or Parquet file of GA4 BigQuery
// export rows to the server's import endpoint, showing upload progress. The run names its import
// with a fresh importId and sends the file again on its own when the connection or the server
// fails (src/cli/import-retry.ts): the server stores it once, all or nothing.

import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { AudexClient } from './client.ts';
import { ApiClientError } from './client.ts';
import { progress } from './progress.ts';
import { newImportId, withImportRetries, type RetryOptions } from './import-retry.ts';

export interface ImportOutcome {
  importedRows: number;
  rejectedRows: number;
  errors: { line?: number; row?: number; message: string }[];
}

export async function importFile(
  client: AudexClient,
  property: string,
  file: string,
  format?: string,
  retry: RetryOptions = {
    onRetry: (err, attempt, ms) =>
      process.stderr.write(
        `import failed (${String((err as Error).message)}); retry ${attempt} in ${ms} ms\n`,
      ),
  },
): Promise<ImportOutcome> {
  const importId = newImportId();
  return withImportRetries(() => sendImport(client, property, file, importId, format), retry);
}

async function sendImport(
  client: AudexClient,
  property: string,
  file: string,
  importId: string,
  format?: string,
): Promise<ImportOutcome> {
  const size = statSync(file).size;
  const kind = format ?? (/\.parquet$/i.test(file) ? 'parquet' : 'ndjson');
  const bar = progress(`uploading ${file}`, size, 'bytes');
  let sent = 0;
  const source = createReadStream(file, { highWaterMark: 1 << 20 });
  source.on('data', (chunk) => {
    sent += chunk.length;
    bar.update(sent);
  });
  let res: Response;
  try {
    res = await fetch(`${client.server}/audex/v1/${property}:import?format=${kind}&importId=${importId}`, {
      method: 'POST',
      headers: client.headers({
        'content-type': kind === 'parquet' ? 'application/vnd.apache.parquet' : 'application/x-ndjson',
      }),
      body: Readable.toWeb(source) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
  } finally {
    bar.stop();
  }
  const json = (await res.json().catch(() => ({}))) as ImportOutcome & {
    error?: { status: string; message: string };
  };
  if (!res.ok)
    throw new ApiClientError(
      res.status,
      json.error?.status ?? String(res.status),
      json.error?.message ?? res.statusText,
    );
  return json;
}
