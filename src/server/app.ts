// Composition root: opens the catalog and storage, builds the services, binds REST (and gRPC),
// and owns the ordered shutdown. `startAudex` is what `audex serve` and the tests call.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/config.ts';
import { openCatalog, type CatalogDb } from '../catalog/db.ts';
import { KeyService } from '../auth/keys.ts';
import { AdminService } from '../api/service/admin.ts';
import { KeyAdminService } from '../api/service/keys.ts';
import { RestApi, sendError, sendJson, type Logger } from '../api/rest/http-server.ts';
import { ApiError } from '../domain/errors.ts';
import { RpcRegistry } from '../api/rpc/registry.ts';
import { registerAdminRpcs } from '../api/rpc/admin-rpcs.ts';
import { GrpcTransport } from '../api/grpc/server.ts';
import { AudienceService } from '../api/service/audiences.ts';
import { createLogger, requestLogger } from './logger.ts';
import { AudexMetrics } from './metrics.ts';
import { assertPortsFree, PortInUseError } from './ports.ts';
import { openStorage } from '../storage/index.ts';
import type { EventStore } from '../storage/contract.ts';
import { IngestBuffer } from '../ingest/buffer.ts';
import { Sessionizer } from '../ingest/sessionizer.ts';
import { SessionContext } from '../ingest/session-context.ts';
import { registerCollectRoutes } from '../api/rest/collect-routes.ts';
import { EventReadService } from '../api/service/events.ts';
import { registerImportRoutes, sweepImportLeftovers } from '../api/rest/import-routes.ts';
import { ExportService } from '../api/service/exports.ts';
import { registerExportRpcs } from '../api/rpc/export-rpcs.ts';
import { ExportRunner } from '../exports/runner.ts';
import { registerListRpcs } from '../api/rpc/list-rpcs.ts';
import { RecurringListService } from '../api/service/recurring.ts';
import { WebhookOutbox } from '../exports/webhooks.ts';
import { RecurringScheduler } from '../exports/recurring.ts';
import { nowMicros } from '../domain/time.ts';
import { AudienceTriggerLogger } from '../audience/triggers/logger.ts';
import { registerConsoleRoutes } from '../api/rest/console-routes.ts';

import { UserDeletionService } from '../privacy/user-deletion.ts';
import { RetentionSettingsService } from '../privacy/retention.ts';
import { DataLifecycleJob } from '../privacy/lifecycle-job.ts';
import { registerPrivacyRpcs } from '../api/rpc/privacy-rpcs.ts';
import { MemoryGuard, parseBytes } from './memory-budget.ts';

const MEMORY_HEAVY_RPCS = [
  'google.analytics.data.v1beta.BetaAnalyticsData.CreateAudienceExport',
  'google.analytics.data.v1beta.BetaAnalyticsData.QueryAudienceExport',
  'google.analytics.data.v1alpha.AlphaAnalyticsData.CreateAudienceList',
  'google.analytics.data.v1alpha.AlphaAnalyticsData.QueryAudienceList',
];

export interface AudexApp {
  /** http://host:port of the REST server. */
  url: string;
  port: number;
  /** null in the worker role (no gRPC). */
  grpcPort: number | null;
  catalog: CatalogDb;
  events: EventStore;
  ingest: IngestBuffer;
  /** The admin key generated on first start (null when configured or already present). */
  generatedAdminKey: string | null;
  /** GET /metrics (Prometheus). */
  metrics: AudexMetrics;
  /** Readiness (GET /healthz): `audex demo` turns it on once its demo audiences exist. */
  setReady(ready: boolean): void;
  /** Ordered shutdown; resolves to the process exit code. */
  close(): Promise<number>;
}

interface ShutdownStep {
  name: string;
  run(): Promise<void>;
}

export async function startAudex(
  config: Config,
  opts: {
    log?: Logger;
    /** Ready for use once listening (default); false waits for setReady(true). */ ready?: boolean;
  } = {},
): Promise<AudexApp> {
  // Before anything is written to the data folder: a start that cannot listen leaves it untouched.
  // Roles (docs/deploy.md): an api process runs no jobs; a worker serves only health and metrics.
  const servesApi = config.server.role !== 'worker';
  const runsJobs = config.server.role !== 'api';
  await assertPortsFree(config.server.host, [
    { port: config.server.port, setting: '--port / AUDEX_PORT' },
    ...(servesApi ? [{ port: config.server.grpcPort, setting: '--grpc-port / AUDEX_GRPC_PORT' }] : []),
  ]);
  const log = opts.log ?? createLogger(config.server.logLevel);
  const metrics = new AudexMetrics();
  const catalog = await openCatalog({ dataDir: config.storage.dataDir, url: config.storage.catalogUrl });
  const keys = new KeyService(catalog);
  const generatedAdminKey = await ensureAdminKey(keys, config.auth.adminKey);
  const storage = await openStorage(config.storage.backend, {
    dataDir: config.storage.dataDir,
    eventsUrl: config.storage.eventsUrl,
    threads: config.storage.duckdbThreads,
    memoryLimit: config.storage.duckdbMemoryLimit,
    ...(config.storage.collectWorkers === undefined ? {} : { collectWorkers: config.storage.collectWorkers }),
    log,
  });
  const { events, snapshots } = storage;
  const ingest = new IngestBuffer(metrics.timedStore(events));

  const audiences = new AudienceService(catalog);
  const admin = new AdminService(catalog, keys, (id) => audiences.ensureBuiltins(id));
  const keyAdmin = new KeyAdminService(keys);
  const webhooks = new WebhookOutbox(catalog, nowMicros, log, {
    baseDelayMs: config.webhooks.baseDelayMs,
    maxDelayMs: config.webhooks.maxDelayMs,
    timeoutMs: config.webhooks.timeoutMs,
    maxAttempts: config.webhooks.maxAttempts,
    giveUpAfterMs: config.webhooks.giveUpHours * 3_600_000,
  });
  let exportRunner: ExportRunner | null = null;
  const exportService = new ExportService(catalog, audiences, snapshots, {
    ...config.exports,
    // GetOperation of a CREATING export answers as soon as its job ends, within 1 s (a long
    // poll; see ExportService.holdWhileCreating).
    holdCreatingMs: 1000,
    onCreated: () => exportRunner?.kick(),
    webhooks,
    allowHttpWebhooks: config.server.allowHttpWebhooks,
    log,
  });
  exportRunner = new ExportRunner(exportService.repo, snapshots, {
    leaseSeconds: config.exports.leaseSeconds,
    testDelayMs: config.exports.testDelayMs,
    log,
    onFinished: async (id) => {
      metrics
        .observeJob(catalog, id)
        .catch((err: unknown) => log.error('export job metrics failed', { id, error: String(err) }));
      // Not awaited: rendering a big export's pages must not hold up the next job.
      exportService
        .warmRows(id)
        .catch((err: unknown) => log.error('pre-rendering export rows failed', { id, error: String(err) }));
      await exportService.notifyFinished(id);
    },
  });
  // Lists of recurring audience lists: idempotent per (recurring list, day), see recurring.ts.
  const recurringScheduler = new RecurringScheduler(
    catalog,
    nowMicros,
    (rec, day) => exportService.createForRecurring(rec, day),
    log,
    { tickMs: config.recurring.tickMs },
  );
  const recurringService = new RecurringListService(catalog, audiences, recurringScheduler, {
    allowHttpWebhooks: config.server.allowHttpWebhooks,
    log,
  });
  // Stores the events of audiences' eventTriggers through the ingest buffer (see the module).
  const triggerLogger = new AudienceTriggerLogger({
    catalog,
    executor: storage.executor,
    progress: storage.triggerProgress,
    submit: (batch) => ingest.submit(batch),
    backfillDays: config.exports.backfillDays === 'all' ? null : config.exports.backfillDays,
    intervalMs: config.triggers.intervalMs,
    maxShare: config.triggers.maxShare,
    log,
  });
  await triggerLogger.init();
  // Privacy (src/privacy/): user deletions (journaled, resumed at start), retention, trash purge.
  const userDeletions = new UserDeletionService({
    catalog,
    eraser: storage.eraser,
    triggersSettled: () => triggerLogger.settled(),
    log,
    testDelayMs: config.privacy.testUserDeletionDelayMs,
  });
  const retention = new RetentionSettingsService(catalog);
  const lifecycle = new DataLifecycleJob({
    catalog,
    eraser: storage.eraser,
    snapshots,
    intervalMs: config.privacy.lifecycleIntervalMs,
    log,
    onPurged: () => keys.invalidate(),
    now: () => Number(nowMicros()),
  });
  const logRequest = requestLogger(log);
  const api = new RestApi(keys, log, config.server.maxBodyBytes, (r) => {
    metrics.observeRequest(r);
    logRequest(r);
  });

  // Liveness: the process serves requests. Readiness: it is ready for its documented use (for
  // `audex demo`, once the demo property and audiences exist).
  let accepting = false;
  let ready = opts.ready ?? true;
  // A worker answers only these three routes (on a REST API of its own, below).
  const health = (api: RestApi) => {
    api.raw('GET', '/livez', async (_req, res) => {
      sendJson(res, accepting ? 200 : 503, { status: accepting ? 'ok' : 'starting' });
    });
    api.raw('GET', '/healthz', async (_req, res) => {
      const ok = accepting && ready;
      sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'starting' });
    });
    // Prometheus text format; needs a key only when AUDEX_METRICS_REQUIRE_KEY is set.
    api.raw('GET', '/metrics', async (_req, res, ctx) => {
      if (config.server.metricsRequireKey) {
        try {
          await ctx.authenticate();
        } catch (err) {
          if (err instanceof ApiError) return sendError(res, err);
          throw err;
        }
      }
      const body = await metrics.text();
      res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
      res.end(body);
    });
  };
  health(api);
  const rpcs = new RpcRegistry();
  registerAdminRpcs(rpcs, admin, audiences);
  registerExportRpcs(rpcs, exportService);
  registerListRpcs(rpcs, exportService, recurringService);
  registerPrivacyRpcs(rpcs, userDeletions, retention);
  // AUDEX_MEMORY_LIMIT: memory-heavy work is refused (RESOURCE_EXHAUSTED) while over the budget.
  const memoryGuard = config.storage.memoryLimit
    ? new MemoryGuard(parseBytes(config.storage.memoryLimit))
    : null;
  if (memoryGuard) rpcs.guard(MEMORY_HEAVY_RPCS, () => memoryGuard.admit());
  rpcs.bindRest(api);
  // audex extension: delivery status of an audience list's webhook notifications.
  api.api('GET', '/audex/v1/{name=properties/*/audienceLists/*}/webhookDeliveries', async (r) => {
    const list = await exportService.getList(r.principal, r.params.name!); // viewer role, NOT_FOUND
    return { deliveries: await webhooks.status(list.name as string) };
  });
  const sessionizer = new Sessionizer();
  const collectStats = registerCollectRoutes(api, {
    admin,
    ingest,
    sessionizer,
    sessionContext: new SessionContext(),
    // DuckDB: MP bodies are parsed, validated and encoded in worker threads (AUDEX_COLLECT_WORKERS).
    ...(events.encodeMeasurement ? { encodeMeasurement: events.encodeMeasurement.bind(events) } : {}),
    log,
  });
  metrics.attach({
    catalog,
    engineMemory: () => storage.memoryUsage(),
    collect: () => collectStats,
    ingest: () => ingest.stats,
  });
  registerImportRoutes(api, {
    admin,
    events,
    sessionizer,
    dataDir: config.storage.dataDir,
    admit: () => memoryGuard?.admit(),
  });
  const swept = await sweepImportLeftovers(config.storage.dataDir, events);
  if (swept.files + swept.stages + swept.moves > 0) log.info('swept leftovers of interrupted imports', swept);
  const eventReader = new EventReadService(events, catalog);
  api.api('GET', '/audex/v1/{parent=properties/*}/events', async (r) =>
    eventReader.list(r.principal, r.params.parent!, r.query),
  );
  api.api('GET', '/audex/v1/metrics', async () => ({
    collect: collectStats,
    ingest: ingest.stats,
    deviceAttributes: storage.maintenance.stats,
    audienceTriggers: triggerLogger.stats,
    userDeletions: userDeletions.stats,
    dataLifecycle: lifecycle.stats,
  }));
  // The web console at / and the audex extensions it uses (docs/console.md).
  registerConsoleRoutes(api, {
    catalog,
    events,
    engine: storage.audiences,
    snapshots,
    exports: exportService,
    backfillDays: config.exports.backfillDays,
  });

  // Operator command (audex properties restore): takes a trashed property out of the trash.
  api.api('POST', '/audex/v1/{name=properties/*}:restore', async (r) =>
    admin.restoreProperty(r.principal, r.params.name!),
  );
  api
    .api('POST', '/audex/v1/keys', async (r) => keyAdmin.create(r.principal, r.body))
    .api('GET', '/audex/v1/keys', async (r) => keyAdmin.list(r.principal))
    .api('POST', '/audex/v1/{name=keys/*}:revoke', async (r) => keyAdmin.revoke(r.principal, r.params.name!));

  // Notifications a crash left un-enqueued, before any request can create more.
  if (runsJobs) await exportService.resumeWebhooks();
  let served = api;
  if (!servesApi) {
    served = new RestApi(keys, log, config.server.maxBodyBytes, (r) => {
      metrics.observeRequest(r);
      logRequest(r);
    });
    health(served);
  }
  const server = served.createServer(config.http);
  await listen(server, config.server.port, config.server.host).catch((err: NodeJS.ErrnoException) => {
    throw new PortInUseError(
      '--port / AUDEX_PORT',
      config.server.host,
      config.server.port,
      err.code ?? String(err),
    );
  });
  const port = (server.address() as AddressInfo).port;
  const grpc = servesApi ? new GrpcTransport(rpcs, keys, log) : null;
  const grpcPort = await grpc?.listen({
    host: config.server.host,
    port: config.server.grpcPort,
    ...(config.server.tlsCert && config.server.tlsKey
      ? { tls: { cert: config.server.tlsCert, key: config.server.tlsKey } }
      : {}),
  });
  accepting = true;
  if (runsJobs) {
    webhooks.start();
    storage.maintenance.start();
    exportRunner.start();
    recurringScheduler.start();
    triggerLogger.start();
    userDeletions.start();
    lifecycle.start();
  }
  log.info('audex listening', {
    url: `http://${config.server.host}:${port}`,
    grpcPort,
    role: config.server.role,
  });

  // The order matters: stop taking requests, then flush what was acknowledged, then close storage.
  const shutdown: ShutdownStep[] = [
    { name: 'http', run: () => closeServer(server) },
    { name: 'grpc', run: async () => grpc?.close() },
    { name: 'user deletions', run: () => userDeletions.stop() },
    { name: 'data lifecycle', run: () => lifecycle.stop() },
    // Before the buffer closes: a pass in flight submits its trigger events through it.
    { name: 'audience triggers', run: () => triggerLogger.stop() },
    { name: 'ingest buffer', run: () => ingest.drain() },
    { name: 'recurring scheduler', run: () => recurringScheduler.stop() },
    { name: 'export runner', run: () => exportRunner.stop() },
    { name: 'webhook outbox', run: () => webhooks.stop() },
    { name: 'storage maintenance', run: () => storage.maintenance.stop() },
    { name: 'event store', run: () => storage.close() },
    { name: 'catalog', run: () => catalog.destroy() },
  ];

  let closing: Promise<number> | null = null;
  return {
    url: `http://${config.server.host}:${port}`,
    port,
    grpcPort: grpcPort ?? null,
    catalog,
    events,
    ingest,
    generatedAdminKey,
    metrics,
    setReady: (r) => {
      ready = r;
    },
    close: () => (closing ??= runShutdown(shutdown, log)),
  };
}

export async function runShutdown(steps: ShutdownStep[], log: Logger): Promise<number> {
  let code = 0;
  for (const step of steps) {
    try {
      await step.run();
    } catch (err) {
      code = 1;
      log.error(`shutdown step ${step.name} failed`, { err: String(err) });
    }
  }
  return code;
}

async function ensureAdminKey(keys: KeyService, configured: string | undefined): Promise<string | null> {
  if (configured) {
    if (!(await keys.authenticate(configured))) {
      await keys.create({ key: configured, displayName: 'operator (AUDEX_ADMIN_KEY)', superuser: true });
    }
    return null;
  }
  if (await keys.hasAnyKey()) return null;
  const { key } = await keys.create({ displayName: 'operator (generated)', superuser: true });
  return key;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeIdleConnections();
  });
}
