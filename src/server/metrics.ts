// Prometheus metrics (prom-client), served at GET /metrics in the text exposition format. One
// registry per server (tests run several in a process). Counters kept elsewhere (collection, the
// ingest buffer) are read at scrape time; catalog and DuckDB figures are queried at scrape time
// too, so a scrape costs a few small queries and nothing is counted twice.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CatalogDb } from '../catalog/db.ts';
import { ExportRepo } from '../catalog/repos/exports.ts';
import { WebhookDeliveryRepository } from '../catalog/repos/webhooks.ts';
import type { EventStore, Storage } from '../storage/contract.ts';
import type { RequestRecord } from './logger.ts';
import type { CollectStats } from '../api/rest/collect-routes.ts';
import type { IngestBufferStats } from '../ingest/buffer.ts';

export interface MetricSources {
  catalog: CatalogDb;
  /** The event engine's memory in use, by tag (Storage.memoryUsage). */
  engineMemory: Storage['memoryUsage'];
  collect: () => CollectStats;
  ingest: () => IngestBufferStats;
}

export class AudexMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'method' | 'route' | 'status'>;
  private readonly batchSize: Histogram;
  private readonly commitLatency: Histogram<'outcome'>;
  private readonly jobDuration: Histogram<'kind' | 'state'>;
  private sources: MetricSources | null = null;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'audex_' });
    this.requests = new Counter({
      name: 'audex_http_requests_total',
      help: 'REST requests by method, route template and HTTP status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'audex_http_request_duration_seconds',
      help: 'REST request latency by method, route template and HTTP status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'audex_ingest_batch_events',
      help: 'Events per group-commit batch of the ingest buffer',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000],
      registers,
    });
    this.commitLatency = new Histogram({
      name: 'audex_ingest_commit_duration_seconds',
      help: 'Time to append and durably commit one ingest batch, by outcome',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'audex_export_job_duration_seconds',
      help: 'From the create call to ACTIVE or FAILED, by kind (export|list) and final state',
      labelNames: ['kind', 'state'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    // collect() callbacks run with `this` bound to their metric; they read the sources from here.
    const sources = () => this.sources;
    new Counter({
      name: 'audex_collect_requests_total',
      help: 'Collection requests (/mp/collect, /g/collect) received',
      registers,
      collect() {
        const src = sources();
        if (!src) return;
        this.reset();
        this.inc(src.collect().requests);
      },
    });
    new Counter({
      name: 'audex_collect_events_stored_total',
      help: 'Events stored by collection requests',
      registers,
      collect() {
        const src = sources();
        if (!src) return;
        this.reset();
        this.inc(src.collect().eventsStored);
      },
    });
    new Counter({
      name: 'audex_collect_requests_dropped_total',
      help: 'Collection requests dropped (answered 2xx, as Google does), by reason',
      labelNames: ['reason'],
      registers,
      collect() {
        const src = sources();
        if (!src) return;
        this.reset();
        for (const [reason, n] of Object.entries(src.collect().requestsDropped)) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: 'audex_ingest_events_total',
      help: 'Events committed by the ingest buffer (collection, import, audience triggers)',
      registers,
      collect() {
        const src = sources();
        if (!src) return;
        this.reset();
        this.inc(src.ingest().events);
      },
    });
    new Gauge({
      name: 'audex_export_jobs',
      help: 'Audience exports and lists not yet expired, by kind and state',
      labelNames: ['kind', 'state'],
      registers,
      async collect() {
        const src = sources();
        if (!src) return;
        const rows = await new ExportRepo(src.catalog).countByKindAndState(Date.now() * 1000);
        this.reset();
        for (const kind of ['export', 'list'])
          for (const state of ['CREATING', 'ACTIVE', 'FAILED'])
            this.set({ kind, state }, rows.find((r) => r.kind === kind && r.state === state)?.n ?? 0);
      },
    });
    new Gauge({
      name: 'audex_webhook_deliveries',
      help: 'Webhook notifications by delivery state (PENDING, DELIVERED, FAILED)',
      labelNames: ['state'],
      registers,
      async collect() {
        const src = sources();
        if (!src) return;
        const rows = await new WebhookDeliveryRepository(src.catalog).countByState();
        this.reset();
        for (const state of ['PENDING', 'DELIVERED', 'FAILED'])
          this.set({ state }, rows.find((r) => r.state === state)?.n ?? 0);
      },
    });
    new Counter({
      name: 'audex_webhook_delivery_attempts_total',
      help: 'Attempts made to deliver webhook notifications',
      registers,
      async collect() {
        const src = sources();
        if (!src) return;
        const attempts = await new WebhookDeliveryRepository(src.catalog).totalAttempts();
        this.reset();
        this.inc(attempts);
      },
    });
    new Gauge({
      name: 'audex_duckdb_memory_bytes',
      help: "DuckDB's buffer-manager memory in use, by tag (duckdb_memory())",
      labelNames: ['tag'],
      registers,
      async collect() {
        const src = sources();
        if (!src) return;
        const rows = await src.engineMemory();
        this.reset();
        let total = 0;
        for (const r of rows) {
          total += Number(r.bytes);
          this.set({ tag: String(r.tag) }, Number(r.bytes));
        }
        this.set({ tag: 'TOTAL' }, total);
      },
    });
  }

  /** Connects the scrape-time sources once the server has built them. */
  attach(sources: MetricSources): void {
    this.sources = sources;
  }

  observeRequest(r: RequestRecord): void {
    const labels = { method: r.method, route: r.route, status: String(r.status) };
    this.requests.inc(labels);
    this.latency.observe(labels, r.durationMs / 1000);
  }

  /** The event store with its appends (one per ingest batch) timed and sized. */
  timedStore<S extends EventStore>(store: S): S {
    const timed = async (write: () => Promise<bigint[]>): Promise<bigint[]> => {
      const end = this.commitLatency.startTimer();
      try {
        const seqs = await write();
        end({ outcome: 'ok' });
        this.batchSize.observe(seqs.length);
        return seqs;
      } catch (err) {
        end({ outcome: 'error' });
        throw err;
      }
    };
    const append: EventStore['append'] = (events) => timed(() => store.append(events));
    const appendEncoded: EventStore['appendEncoded'] = (parts) => timed(() => store.appendEncoded!(parts));
    return new Proxy(store, {
      get: (target, prop, receiver) =>
        prop === 'append'
          ? append
          : prop === 'appendEncoded' && store.appendEncoded
            ? appendEncoded
            : Reflect.get(target, prop, receiver),
    });
  }

  /** Records a finished export job from its catalog row. */
  async observeJob(catalog: CatalogDb, id: number): Promise<void> {
    const row = await new ExportRepo(catalog).byId(id);
    if (!row || row.finish_time === null) return;
    this.jobDuration.observe(
      { kind: row.kind, state: row.state },
      Math.max(0, row.finish_time - row.begin_creating_time) / 1e6,
    );
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
