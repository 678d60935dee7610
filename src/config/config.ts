// The only reader of process.env. Flags win over environment variables; everything is validated
// with one schema and every problem is reported at once.

import { resolve } from 'node:path';
import { z } from 'zod';
import { BACKEND_NAMES, eventsUrlProblem } from '../storage/index.ts';
import { duckdbLimitFor, parseBytes } from '../server/memory-budget.ts';

const portSchema = z.coerce.number().int().min(0).max(65535);
const boolish = z
  .union([z.boolean(), z.enum(['1', '0', 'true', 'false', 'yes', 'no'])])
  .transform((v) => v === true || v === '1' || v === 'true' || v === 'yes');

const schema = z.object({
  server: z.object({
    host: z.string().min(1),
    port: portSchema,
    grpcPort: portSchema,
    /** Largest JSON body accepted by the API (MP has its own 130 kB rule). */
    maxBodyBytes: z.coerce.number().int().positive(),
    /** Allow plain-HTTP webhook URIs (for local receivers). */
    allowHttpWebhooks: boolish,
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
    /** pino level of the server's logs (request logs are `info`). */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    /** Whether GET /metrics (Prometheus) needs an API key (any valid key). */
    metricsRequireKey: boolish,
    /**
     * What this process does (docs/deploy.md "Roles"): `api` serves REST, gRPC and collection and
     * runs no jobs; `worker` runs export jobs, recurring lists, webhooks and trigger passes and
     * serves only /healthz, /livez and /metrics; `all` does both.
     */
    role: z.enum(['all', 'api', 'worker']),
  }),
  /** Slow or too many clients (src/api/rest/http-server.ts, README "Connections"). */
  http: z.object({
    /** A request's headers must arrive within this time, else 408 and the socket closes. */
    headersTimeoutMs: z.coerce.number().int().positive(),
    /** The whole request (headers and body, e.g. an import upload) must arrive within this time. */
    requestTimeoutMs: z.coerce.number().int().positive(),
    /** Open REST connections at most; more are closed at once. */
    maxConnections: z.coerce.number().int().positive(),
  }),
  storage: z.object({
    /** The event engine (src/storage/index.ts lists them). */
    backend: z.enum(BACKEND_NAMES),
    /** --events-url: a server engine's address (clickhouse://…, docs/deploy.md); unset: DuckDB in dataDir. */
    eventsUrl: z
      .string()
      .optional()
      .superRefine((url, ctx) => {
        const problem = url === undefined ? null : eventsUrlProblem(url);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    dataDir: z.string().min(1),
    /** PostgreSQL catalog (`postgres://user[:password]@host:5432/database`); unset = SQLite in dataDir. */
    // Checked when the catalog opens (src/catalog/db.ts parseCatalogUrl), one line and exit 1.
    catalogUrl: z.string().optional(),
    duckdbMemoryLimit: z.string().regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'like "2GB"'),
    duckdbThreads: z.coerce.number().int().min(1).max(256),
    /** DuckDB: worker threads for Measurement Protocol collection; 0 = on the main thread. */
    collectWorkers: z.coerce.number().int().min(0).max(64).optional(),
    /** AUDEX_MEMORY_LIMIT: one budget for the process (src/server/memory-budget.ts). */
    memoryLimit: z
      .string()
      .regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'like "2GB"')
      .optional(),
  }),
  auth: z.object({
    /** Created as the admin key on first start when set; otherwise a key is generated and printed once. */
    adminKey: z.string().min(16, 'must be at least 16 characters').optional(),
  }),
  exports: z.object({
    expiryHours: z.coerce.number().positive(),
    maxConcurrentPerProperty: z.coerce.number().int().positive(),
    dailyTokensPerProperty: z.coerce.number().int().positive(),
    backfillDays: z.union([z.literal('all'), z.coerce.number().int().min(0).max(3650)]),
    leaseSeconds: z.coerce.number().int().positive(),
    /** Test hook: each export job spends this long CREATING before it materializes (0 = off). */
    testDelayMs: z.coerce.number().int().min(0),
  }),
  /** v1alpha webhook notifications (src/exports/webhooks.ts). */
  webhooks: z.object({
    /** Retry backoff base and cap (full jitter). */
    baseDelayMs: z.coerce.number().int().positive(),
    maxDelayMs: z.coerce.number().int().positive(),
    /** A receiver must answer 2xx within this time. */
    timeoutMs: z.coerce.number().int().positive(),
    maxAttempts: z.coerce.number().int().positive(),
    /** No retry after this long since the notification was enqueued. */
    giveUpHours: z.coerce.number().positive(),
  }),
  recurring: z.object({
    /** How often the recurring-list scheduler looks for ended days. */
    tickMs: z.coerce.number().int().positive(),
  }),
  /** Data lifecycle (src/privacy/): retention and trash purge pass interval; test hook. */
  privacy: z.object({
    lifecycleIntervalMs: z.coerce.number().int().positive(),
    /** Test hook: a journaled user deletion waits this long before any work (0 = off). */
    testUserDeletionDelayMs: z.coerce.number().int().min(0),
  }),
  /** Audience event triggers (src/audience/triggers/logger.ts). */
  triggers: z.object({
    /** Pause between two passes of the trigger logger. */
    intervalMs: z.coerce.number().int().positive(),
    /** The most of the time its passes may take: a longer pass is followed by a longer pause. */
    maxShare: z.coerce.number().gt(0).max(1),
  }),
});

export type Config = z.infer<typeof schema>;

/** Flag values as parsed by the CLI (strings), keyed like the schema's leaves. */
export interface ConfigFlags {
  host?: string;
  port?: string;
  grpcPort?: string;
  data?: string;
  eventsUrl?: string;
  logLevel?: string;
  catalogUrl?: string;
  role?: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/** DuckDB's share of a valid AUDEX_MEMORY_LIMIT; undefined when unset or invalid (the schema reports it). */
function derivedDuckdbLimit(budget: string | undefined): string | undefined {
  try {
    return budget ? duckdbLimitFor(parseBytes(budget)) : undefined;
  } catch {
    return undefined;
  }
}

/** Where each setting comes from, for error messages: the flag (if any) and the environment variable. */
const SOURCES: Record<string, string> = {
  'server.host': '--host / AUDEX_HOST',
  'server.port': '--port / AUDEX_PORT',
  'server.grpcPort': '--grpc-port / AUDEX_GRPC_PORT',
  'server.maxBodyBytes': 'AUDEX_MAX_BODY_BYTES',
  'server.allowHttpWebhooks': 'AUDEX_ALLOW_HTTP_WEBHOOKS',
  'server.tlsCert': 'AUDEX_TLS_CERT',
  'server.tlsKey': 'AUDEX_TLS_KEY',
  'server.logLevel': '--log-level / AUDEX_LOG_LEVEL',
  'server.metricsRequireKey': 'AUDEX_METRICS_REQUIRE_KEY',
  'server.role': '--role / AUDEX_ROLE',
  'http.headersTimeoutMs': 'AUDEX_HEADERS_TIMEOUT_MS',
  'http.requestTimeoutMs': 'AUDEX_REQUEST_TIMEOUT_MS',
  'http.maxConnections': 'AUDEX_MAX_CONNECTIONS',
  'storage.dataDir': '--data / AUDEX_DATA',
  'storage.backend': 'AUDEX_STORAGE_BACKEND',
  'storage.eventsUrl': '--events-url / AUDEX_EVENTS_URL',
  'storage.catalogUrl': '--catalog-url / AUDEX_CATALOG_URL',
  'storage.memoryLimit': 'AUDEX_MEMORY_LIMIT',
  'storage.duckdbMemoryLimit': 'AUDEX_DUCKDB_MEMORY_LIMIT',
  'storage.duckdbThreads': 'AUDEX_DUCKDB_THREADS',
  'storage.collectWorkers': 'AUDEX_COLLECT_WORKERS',
  'auth.adminKey': 'AUDEX_ADMIN_KEY',
  'exports.expiryHours': 'AUDEX_EXPORT_EXPIRY_HOURS',
  'exports.maxConcurrentPerProperty': 'AUDEX_EXPORT_MAX_CONCURRENT',
  'exports.dailyTokensPerProperty': 'AUDEX_EXPORT_DAILY_TOKENS',
  'exports.backfillDays': 'AUDEX_BACKFILL_DAYS',
  'exports.leaseSeconds': 'AUDEX_JOB_LEASE_SECONDS',
  'exports.testDelayMs': 'AUDEX_TEST_EXPORT_DELAY_MS',
  'webhooks.baseDelayMs': 'AUDEX_WEBHOOK_BASE_DELAY_MS',
  'webhooks.maxDelayMs': 'AUDEX_WEBHOOK_MAX_DELAY_MS',
  'webhooks.timeoutMs': 'AUDEX_WEBHOOK_TIMEOUT_MS',
  'webhooks.maxAttempts': 'AUDEX_WEBHOOK_MAX_ATTEMPTS',
  'webhooks.giveUpHours': 'AUDEX_WEBHOOK_GIVE_UP_HOURS',
  'recurring.tickMs': 'AUDEX_RECURRING_TICK_MS',
  'triggers.intervalMs': 'AUDEX_TRIGGER_INTERVAL_MS',
  'triggers.maxShare': 'AUDEX_TRIGGER_MAX_SHARE',
  'privacy.lifecycleIntervalMs': 'AUDEX_LIFECYCLE_INTERVAL_MS',
  'privacy.testUserDeletionDelayMs': 'AUDEX_TEST_USER_DELETION_DELAY_MS',
};

export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const raw = {
    server: {
      host: flags.host ?? env.AUDEX_HOST ?? '127.0.0.1',
      port: flags.port ?? env.AUDEX_PORT ?? '8080',
      grpcPort: flags.grpcPort ?? env.AUDEX_GRPC_PORT ?? '50051',
      maxBodyBytes: env.AUDEX_MAX_BODY_BYTES ?? String(10 * 1024 * 1024),
      allowHttpWebhooks: env.AUDEX_ALLOW_HTTP_WEBHOOKS ?? 'false',
      tlsCert: env.AUDEX_TLS_CERT,
      tlsKey: env.AUDEX_TLS_KEY,
      logLevel: flags.logLevel ?? env.AUDEX_LOG_LEVEL ?? 'info',
      metricsRequireKey: env.AUDEX_METRICS_REQUIRE_KEY ?? 'false',
      role: flags.role ?? (env.AUDEX_ROLE || 'all'),
    },
    http: {
      headersTimeoutMs: env.AUDEX_HEADERS_TIMEOUT_MS ?? '10000',
      requestTimeoutMs: env.AUDEX_REQUEST_TIMEOUT_MS ?? String(15 * 60 * 1000),
      maxConnections: env.AUDEX_MAX_CONNECTIONS ?? '4096',
    },
    storage: {
      // A clickhouse:// events URL selects the ClickHouse engine.
      backend:
        env.AUDEX_STORAGE_BACKEND ??
        ((flags.eventsUrl ?? env.AUDEX_EVENTS_URL)?.startsWith('clickhouse://')
          ? 'clickhouse'
          : BACKEND_NAMES[0]),
      eventsUrl: flags.eventsUrl ?? (env.AUDEX_EVENTS_URL || undefined),
      dataDir: resolve(flags.data ?? env.AUDEX_DATA ?? './audex-data'),
      catalogUrl: flags.catalogUrl ?? (env.AUDEX_CATALOG_URL || undefined),
      // With a process budget, DuckDB's limit is derived from it unless given explicitly.
      duckdbMemoryLimit: env.AUDEX_DUCKDB_MEMORY_LIMIT ?? derivedDuckdbLimit(env.AUDEX_MEMORY_LIMIT) ?? '4GB',
      memoryLimit: env.AUDEX_MEMORY_LIMIT || undefined,
      duckdbThreads: env.AUDEX_DUCKDB_THREADS ?? '2',
      collectWorkers: env.AUDEX_COLLECT_WORKERS || undefined,
    },
    auth: { adminKey: env.AUDEX_ADMIN_KEY || undefined },
    exports: {
      expiryHours: env.AUDEX_EXPORT_EXPIRY_HOURS ?? '72',
      maxConcurrentPerProperty: env.AUDEX_EXPORT_MAX_CONCURRENT ?? '10',
      dailyTokensPerProperty: env.AUDEX_EXPORT_DAILY_TOKENS ?? '200000',
      backfillDays: env.AUDEX_BACKFILL_DAYS ?? '30',
      leaseSeconds: env.AUDEX_JOB_LEASE_SECONDS ?? '30',
      testDelayMs: env.AUDEX_TEST_EXPORT_DELAY_MS ?? '0',
    },
    webhooks: {
      baseDelayMs: env.AUDEX_WEBHOOK_BASE_DELAY_MS ?? '2000',
      maxDelayMs: env.AUDEX_WEBHOOK_MAX_DELAY_MS ?? String(30 * 60 * 1000),
      timeoutMs: env.AUDEX_WEBHOOK_TIMEOUT_MS ?? '5000',
      maxAttempts: env.AUDEX_WEBHOOK_MAX_ATTEMPTS ?? '100',
      giveUpHours: env.AUDEX_WEBHOOK_GIVE_UP_HOURS ?? '24',
    },
    recurring: { tickMs: env.AUDEX_RECURRING_TICK_MS ?? '60000' },
    privacy: {
      lifecycleIntervalMs: env.AUDEX_LIFECYCLE_INTERVAL_MS ?? String(3_600_000),
      testUserDeletionDelayMs: env.AUDEX_TEST_USER_DELETION_DELAY_MS ?? '0',
    },
    triggers: {
      intervalMs: env.AUDEX_TRIGGER_INTERVAL_MS ?? '5000',
      maxShare: env.AUDEX_TRIGGER_MAX_SHARE ?? '0.1',
    },
  };
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const path = i.path.join('.');
        const value = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], raw);
        // The operator key and the catalog URL (it may hold a password) are named, never printed.
        const shown =
          path === 'auth.adminKey' || path === 'storage.catalogUrl' ? '' : `${JSON.stringify(value)} `;
        return `${SOURCES[path] ?? path} (${path}): ${shown}${i.message}`;
      }),
    );
  }
  const cfg = parsed.data;
  if ((cfg.server.tlsCert === undefined) !== (cfg.server.tlsKey === undefined)) {
    throw new ConfigError([
      'server.tlsCert and server.tlsKey (AUDEX_TLS_CERT, AUDEX_TLS_KEY) must be given together',
    ]);
  }
  if (cfg.server.role !== 'all' && (!cfg.storage.catalogUrl || !sharedEventStore(cfg))) {
    throw new ConfigError([
      `--role ${cfg.server.role} needs a catalog and an event store that several processes share: --catalog-url (PostgreSQL) and --events-url (ClickHouse); the embedded ${cfg.storage.catalogUrl ? 'DuckDB event store' : 'SQLite catalog and DuckDB event store'} serve${cfg.storage.catalogUrl ? 's' : ''} one process (use --role all)`,
    ]);
  }
  return cfg;
}

/**
 * Whether the event store can be shared by several audex processes: every backend but the
 * embedded DuckDB file (one process's file) is a server named by --events-url, and ClickHouse
 * takes any number of writers (src/storage/clickhouse/ingest-seq.ts).
 */
export function sharedEventStore(cfg: Config): boolean {
  return cfg.storage.backend !== 'duckdb' && cfg.storage.eventsUrl !== undefined;
}

/** The client side of the CLI: which server and key to talk to. */
export function loadClientConfig(
  flags: { server?: string; key?: string },
  env: NodeJS.ProcessEnv = process.env,
) {
  return {
    server: (flags.server ?? env.AUDEX_SERVER ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
    key: flags.key ?? env.AUDEX_KEY ?? undefined,
  };
}
