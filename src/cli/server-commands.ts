// `audex serve|demo|operator-key`: the commands that run the server in this process or work on a
// data folder directly (everything else is a client of the API).

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { examples, usageError } from './program.ts';

interface ServerFlags {
  port?: string;
  grpcPort?: string;
  host?: string;
  data?: string;
  logLevel?: string;
  eventsUrl?: string;
  catalogUrl?: string;
  role?: string;
}

function serverOptions(cmd: Command): Command {
  return cmd
    .option('--port <port>', 'REST port, 0 picks a free one (env AUDEX_PORT, default 8080)')
    .option('--grpc-port <port>', 'gRPC port (env AUDEX_GRPC_PORT, default 50051)')
    .option('--host <address>', 'listen address (env AUDEX_HOST, default 127.0.0.1)')
    .option('--data <dir>', 'data folder (env AUDEX_DATA, default ./audex-data)')
    .option(
      '--events-url <url>',
      'events in ClickHouse: clickhouse://host:8123/db[?cluster=NAME] (env AUDEX_EVENTS_URL, default DuckDB in --data)',
    )
    .option('--log-level <level>', 'fatal|error|warn|info|debug|silent (env AUDEX_LOG_LEVEL, default info)')
    .option(
      '--catalog-url <url>',
      'PostgreSQL catalog postgres://user[:password]@host:5432/database (env AUDEX_CATALOG_URL, default SQLite in --data)',
    )
    .option(
      '--role <role>',
      'api (REST, gRPC, collection) | worker (jobs; /healthz and /metrics only) | all (env AUDEX_ROLE, default all)',
    )
    .addHelpText(
      'after',
      "\nEvery other setting is an environment variable: see the README's configuration table.\n",
    );
}

async function serve(o: ServerFlags, demo: boolean): Promise<number> {
  const config = loadConfig({
    port: o.port,
    grpcPort: o.grpcPort,
    host: o.host,
    data: o.data,
    eventsUrl: o.eventsUrl,
    logLevel: o.logLevel,
    catalogUrl: o.catalogUrl,
    role: o.role,
  });
  // Loaded here, not at the top: `audex --help` and the client commands need none of the server.
  const { startAudex } = await import('../server/app.ts');
  const app = await startAudex(config, { ready: !demo });
  if (app.generatedAdminKey) {
    process.stdout.write(
      `\nGenerated the operator (superuser) API key. It is shown only this once:\n\n  ${app.generatedAdminKey}\n\n` +
        `Use it as "Authorization: Bearer <key>" or "X-Goog-Api-Key: <key>", or export AUDEX_KEY=<key>.\n` +
        `Lost it? \`audex operator-key create --data ${config.storage.dataDir}\` mints another.\n\n`,
    );
  }
  if (demo) {
    const { demoInstructions, findDemo, prepareDemo } = await import('../demo/index.ts');
    const operator = app.generatedAdminKey
      ? { key: app.generatedAdminKey, source: 'generated' as const }
      : config.auth.adminKey
        ? { key: config.auth.adminKey, source: 'AUDEX_ADMIN_KEY' as const }
        : { key: null, source: 'unknown' as const };
    try {
      // A data folder seeded before still gets the instructions (the seeding counts aside).
      const info = (await prepareDemo(app, operator)) ?? (await findDemo(app));
      if (info) process.stdout.write(demoInstructions(info, app, operator, config.storage.dataDir));
      app.setReady(true);
    } catch (err) {
      await app.close();
      throw err;
    }
  }
  if (app.grpcPort === null) {
    process.stdout.write(`audex worker serving /healthz and /metrics on ${app.url}\n`);
  } else {
    process.stdout.write(`audex serving REST on ${app.url}\n`);
    process.stdout.write(
      `audex serving gRPC on ${config.server.host}:${app.grpcPort}${config.server.tlsCert ? ' (TLS)' : ''}\n`,
    );
  }
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  return app.close();
}

/** Set by serve/demo: they own the process and exit with the shutdown's code. */
export let serverExitCode: number | null = null;

export function registerServer(program: Command): void {
  serverOptions(program.command('serve').description('run the audex server (REST and gRPC)'))
    .addHelpText(
      'after',
      examples('audex serve --port 8080 --data ./audex-data', 'AUDEX_LOG_LEVEL=warn audex serve'),
    )
    .action(async (o: ServerFlags) => {
      serverExitCode = await serve(o, false);
    });
  serverOptions(
    program
      .command('demo')
      .description('serve; an empty data folder first gets a demo shop property with history and audiences'),
  ).action(async (o: ServerFlags) => {
    serverExitCode = await serve(o, true);
  });

  program
    .command('migrate')
    .description(
      'copy an embedded installation (--from-data) into shared stores: the catalog into PostgreSQL; counts checked',
    )
    .requiredOption('--from-data <dir>', 'the data folder to copy (stop its server first)')
    .option('--catalog-url <url>', 'target PostgreSQL catalog, an empty database (env AUDEX_CATALOG_URL)')
    .option('--events-url <url>', 'target ClickHouse events, an empty database (env AUDEX_EVENTS_URL)')
    .addHelpText(
      'after',
      examples(
        'audex migrate --from-data ./audex-data --catalog-url postgres://audex:secret@db:5432/audex --events-url clickhouse://ch:8123/audex',
      ),
    )
    .action(async (o: { fromData: string; catalogUrl?: string; eventsUrl?: string }) => {
      const { migrationSteps, runMigration, MigrateError } = await import('./migrate.ts');
      try {
        const steps = migrationSteps({
          fromData: resolve(o.fromData),
          catalogUrl: o.catalogUrl ?? (process.env.AUDEX_CATALOG_URL || undefined),
          eventsUrl: o.eventsUrl ?? (process.env.AUDEX_EVENTS_URL || undefined),
        });
        process.exitCode = await runMigration(steps, process.stdout);
      } catch (err) {
        if (!(err instanceof MigrateError)) throw err;
        process.stderr.write(`audex: ${err.message}\n`);
        process.exitCode = 1;
      }
    });

  const operatorKey = program
    .command('operator-key')
    .description('the operator (superuser) key of a data folder');
  operatorKey
    .command('create')
    .description(
      'mint a new operator key for an existing data folder (printed once; the old ones stay valid)',
    )
    .option('--data <dir>', 'data folder (env AUDEX_DATA, default ./audex-data)')
    .option('--name <displayName>', 'display name of the key', 'operator (audex operator-key create)')
    .option('--json', 'print {"name","key"} as JSON')
    .addHelpText(
      'after',
      examples(
        'audex operator-key create --data ./audex-data',
        'audex keys revoke keys/1   # then revoke a lost key with the new one',
      ),
    )
    .action(async (o: { data?: string; name: string; json?: boolean }, cmd: Command) => {
      const dataDir = resolve(o.data ?? process.env.AUDEX_DATA ?? './audex-data');
      if (!existsSync(join(dataDir, 'catalog.sqlite')))
        usageError(cmd, `--data ${dataDir} is not an audex data folder (it has no catalog.sqlite)`);
      const { openCatalog } = await import('../catalog/db.ts');
      const { KeyService } = await import('../auth/keys.ts');
      const catalog = await openCatalog(dataDir);
      try {
        const created = await new KeyService(catalog).create({ displayName: o.name, superuser: true });
        const name = `keys/${created.id}`;
        if (o.json) process.stdout.write(JSON.stringify({ name, key: created.key }, null, 2) + '\n');
        else
          process.stdout.write(
            `Created ${name}, an operator (superuser) key. It is shown only this once:\n\n  ${created.key}\n\n`,
          );
      } finally {
        await catalog.destroy();
      }
    });
}
