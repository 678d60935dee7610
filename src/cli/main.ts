// `audex` command line. `serve` and `demo` run the server in this process; every other command is
// a client of the public API (server and key from --server/AUDEX_SERVER and --key/AUDEX_KEY).

import { parseArgs } from 'node:util';
import { ConfigError, loadClientConfig, loadConfig } from '../config/config.ts';
import { startAudex } from '../server/app.ts';
import { ApiClientError, AudexClient } from './client.ts';
import { printTable } from './output.ts';
import { importFile } from './import.ts';
import { EXPORTS_USAGE, exportsCommand } from './exports.ts';
import { RESTORE_USAGE, restorePropertyCommand } from './property-restore.ts';
import { demoInstructions, prepareDemo } from '../demo/index.ts';

const USAGE = `audex: self-hosted GA4 audiences and audience exports

Usage:
  audex serve [--port 8080] [--grpc-port 50051] [--host 127.0.0.1] [--data ./audex-data]
  audex demo  [same flags as serve]   # serve; on an empty data folder first create a demo shop property
  audex keys create --property properties/P --role viewer|editor|admin [--name NAME]
  audex keys list
  audex keys revoke keys/ID
  audex import --property properties/P FILE.ndjson|FILE.parquet [--format ndjson|parquet]
  audex properties list | create --name NAME [--time-zone Europe/Berlin] [--currency EUR]
${RESTORE_USAGE}
  audex audiences list --property properties/P | create --property properties/P --file AUDIENCE.json
${EXPORTS_USAGE}
Client options (every command but serve): --server URL (AUDEX_SERVER), --key KEY (AUDEX_KEY), --json`;

type Command = (args: string[]) => Promise<number>;

const serverOptions = {
  port: { type: 'string' },
  'grpc-port': { type: 'string' },
  host: { type: 'string' },
  data: { type: 'string' },
} as const;

async function serve(args: string[], demo = false): Promise<number> {
  const { values } = parseArgs({ args, options: serverOptions, strict: true });
  const config = loadConfig({
    port: values.port,
    grpcPort: values['grpc-port'],
    host: values.host,
    data: values.data,
  });
  const app = await startAudex(config);
  if (app.generatedAdminKey) {
    process.stdout.write(
      `\nGenerated the operator (superuser) API key. It is shown only this once:\n\n  ${app.generatedAdminKey}\n\n` +
        `Use it as "Authorization: Bearer <key>" or "X-Goog-Api-Key: <key>", or export AUDEX_KEY=<key>.\n\n`,
    );
  }
  if (demo) {
    const operator = app.generatedAdminKey
      ? { key: app.generatedAdminKey, source: 'generated' as const }
      : config.auth.adminKey
        ? { key: config.auth.adminKey, source: 'AUDEX_ADMIN_KEY' as const }
        : { key: null, source: 'unknown' as const };
    try {
      const info = await prepareDemo(app, operator);
      if (info) process.stdout.write(demoInstructions(info, app, operator));
    } catch (err) {
      await app.close();
      throw err;
    }
  }
  process.stdout.write(`audex serving REST on ${app.url}\n`);
  process.stdout.write(
    `audex serving gRPC on ${config.server.host}:${app.grpcPort}${config.server.tlsCert ? ' (TLS)' : ''}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  return app.close();
}

const clientOptions = {
  server: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
} as const;

function client(values: { server?: string | undefined; key?: string | undefined }): AudexClient {
  const c = loadClientConfig({ server: values.server, key: values.key });
  return new AudexClient(c.server, c.key);
}

function output(json: boolean | undefined, data: unknown, table: () => void): void {
  if (json) process.stdout.write(JSON.stringify(data, null, 2) + '\n');
  else table();
}

async function keys(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      ...clientOptions,
      property: { type: 'string', multiple: true },
      role: { type: 'string' },
      name: { type: 'string' },
    },
    allowPositionals: true,
  });
  const api = client(values);
  if (sub === 'create') {
    if (!values.property?.length || !values.role)
      throw new UsageError('keys create needs --property and --role');
    const res = await api.call<{ key: string; name: string }>('POST', '/audex/v1/keys', {
      displayName: values.name ?? '',
      bindings: values.property.map((property) => ({ property, role: values.role })),
    });
    output(values.json, res, () => {
      process.stdout.write(`Created ${res.name}. The key is shown only this once:\n\n  ${res.key}\n`);
    });
    return 0;
  }
  if (sub === 'list') {
    const res = await api.call<{
      keys: {
        name: string;
        keyPrefix: string;
        displayName: string;
        superuser: boolean;
        revokeTime?: string;
        bindings: { property: string; role: string }[];
      }[];
    }>('GET', '/audex/v1/keys');
    output(values.json, res, () =>
      printTable(
        ['NAME', 'PREFIX', 'DISPLAY NAME', 'ACCESS', 'STATE'],
        res.keys.map((k) => [
          k.name,
          k.keyPrefix + '…',
          k.displayName,
          k.superuser ? 'superuser' : k.bindings.map((b) => `${b.property}:${b.role}`).join(' '),
          k.revokeTime ? `revoked ${k.revokeTime}` : 'active',
        ]),
      ),
    );
    return 0;
  }
  if (sub === 'revoke') {
    const name = positionals[0];
    if (!name) throw new UsageError('keys revoke needs a key name (keys/ID)');
    await api.call('POST', `/audex/v1/${name}:revoke`, {});
    process.stdout.write(`Revoked ${name}.\n`);
    return 0;
  }
  throw new UsageError(`unknown keys command ${sub ?? ''}`);
}

async function importCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...clientOptions, property: { type: 'string' }, format: { type: 'string' } },
    allowPositionals: true,
  });
  const file = positionals[0];
  if (!values.property || !file) throw new UsageError('import needs --property and a file');
  const res = await importFile(client(values), values.property, file, values.format);
  output(values.json, res, () => {
    process.stdout.write(`Imported ${res.importedRows} rows; rejected ${res.rejectedRows}.\n`);
    for (const e of res.errors)
      process.stdout.write(`  ${e.line !== undefined ? `line ${e.line}` : `row ${e.row}`}: ${e.message}\n`);
  });
  return res.rejectedRows > 0 ? 1 : 0;
}

async function properties(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'restore') return restorePropertyCommand(rest, client, (m) => new UsageError(m));
  const { values } = parseArgs({
    args: rest,
    options: {
      ...clientOptions,
      name: { type: 'string' },
      'time-zone': { type: 'string' },
      currency: { type: 'string' },
    },
  });
  const api = client(values);
  if (sub === 'list') {
    const res = await api.call<{
      properties?: { name: string; displayName: string; timeZone: string; currencyCode: string }[];
    }>('GET', '/v1beta/properties?filter=parent:accounts/1&pageSize=200');
    output(values.json, res, () =>
      printTable(
        ['NAME', 'DISPLAY NAME', 'TIME ZONE', 'CURRENCY'],
        (res.properties ?? []).map((p) => [p.name, p.displayName, p.timeZone, p.currencyCode]),
      ),
    );
    return 0;
  }
  if (sub === 'create') {
    if (!values.name) throw new UsageError('properties create needs --name');
    const res = await api.call<{ name: string }>('POST', '/v1beta/properties', {
      parent: 'accounts/1',
      displayName: values.name,
      timeZone: values['time-zone'] ?? 'UTC',
      currencyCode: values.currency ?? 'USD',
    });
    output(values.json, res, () => process.stdout.write(`Created ${res.name}.\n`));
    return 0;
  }
  throw new UsageError(`unknown properties command ${sub ?? ''}`);
}

async function audiencesCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: { ...clientOptions, property: { type: 'string' }, file: { type: 'string' } },
  });
  if (!values.property) throw new UsageError(`audiences ${sub ?? ''} needs --property`);
  const api = client(values);
  if (sub === 'list') {
    const res = await api.call<{
      audiences?: { name: string; displayName: string; membershipDurationDays: number }[];
    }>('GET', `/v1alpha/${values.property}/audiences?pageSize=200`);
    output(values.json, res, () =>
      printTable(
        ['NAME', 'DISPLAY NAME', 'DAYS'],
        (res.audiences ?? []).map((a) => [a.name, a.displayName, String(a.membershipDurationDays)]),
      ),
    );
    return 0;
  }
  if (sub === 'create') {
    if (!values.file) throw new UsageError('audiences create needs --file AUDIENCE.json');
    const { readFile } = await import('node:fs/promises');
    const body: unknown = JSON.parse(await readFile(values.file, 'utf8'));
    const res = await api.call<{ name: string }>('POST', `/v1alpha/${values.property}/audiences`, body);
    output(values.json, res, () => process.stdout.write(`Created ${res.name}.\n`));
    return 0;
  }
  throw new UsageError(`unknown audiences command ${sub ?? ''}`);
}

class UsageError extends Error {}

export const commands: Record<string, Command> = {
  serve,
  demo: (args) => serve(args, true),
  exports: (args) => exportsCommand(args, { client, usageError: (message) => new UsageError(message) }),
  keys,
  import: importCommand,
  properties,
  audiences: audiencesCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE + '\n');
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`audex: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    return await command(args);
  } catch (err) {
    if (err instanceof ConfigError) process.stderr.write(`audex: ${err.message}\n`);
    else if (err instanceof ApiClientError) process.stderr.write(`audex: ${err.status}: ${err.message}\n`);
    else if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`audex: ${(err as Error).message}\n\n${USAGE}\n`);
      return 2;
    } else process.stderr.write(`audex: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
// `serve` has closed everything it opened; anything left (a stray handle) must not keep it alive.
if (process.argv[2] === 'serve' || process.argv[2] === 'demo') process.exit(code);
process.exitCode = code;
