// `audex import --property properties/P FILE`: streams an NDJSON or Parquet file of GA4 BigQuery
// export rows to the server's import endpoint, showing upload progress. The run names its import
// with a fresh importId and sends the file again on its own when the connection or the server
// fails (src/cli/import-retry.ts): the server stores it once, all or nothing.

import { createReadStream, existsSync, statSync } from 'node:fs';
import { Argument, Option, type Command } from 'commander';
import { Readable } from 'node:stream';
import type { AudexClient } from './client.ts';
import { ApiClientError } from './client.ts';
import { progress } from './progress.ts';
import { newImportId, withImportRetries, type RetryOptions } from './import-retry.ts';
import { clientCommand, clientOf, examples, names, oneOf, output, setExit, usageError } from './program.ts';

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

export function registerImport(program: Command): void {
  clientCommand(program, 'import', 'import GA4 BigQuery-export rows (NDJSON or Parquet) into a property')
    .addArgument(new Argument('<file>', 'FILE.ndjson or FILE.parquet'))
    .addOption(
      new Option('--property <property>', 'properties/P').argParser(names.property).makeOptionMandatory(),
    )
    .addOption(
      new Option('--format <format>', 'ndjson|parquet (default: from the file name)').argParser(
        oneOf(['ndjson', 'parquet'] as const),
      ),
    )
    .addHelpText('after', examples('audex import --property properties/1 events.ndjson'))
    .action(async (file: string, o: { property: string; format?: string }, cmd: Command) => {
      if (!existsSync(file)) usageError(cmd, `${file}: no such file`);
      const res = await importFile(clientOf(cmd), o.property, file, o.format);
      output(cmd, res, () => {
        process.stdout.write(`Imported ${res.importedRows} rows; rejected ${res.rejectedRows}.\n`);
        for (const e of res.errors)
          process.stdout.write(
            `  ${e.line !== undefined ? `line ${e.line}` : `row ${e.row}`}: ${e.message}\n`,
          );
      });
      if (res.rejectedRows > 0) setExit(1);
    });
}
