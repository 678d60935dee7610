// The ClickHouse backend as src/storage/index.ts opens it: events and export snapshots in a
// ClickHouse server (or a cluster of shards) named by the events URL (url.ts), over HTTP with the
// official @clickhouse/client. Works on Debian's ClickHouse 18.16 (docs/deploy.md).

import type { Storage, StorageOptions } from '../contract.ts';
import { ClickHouseAudienceEngine } from './audience-engine.ts';
import { StorageError } from '../errors.ts';
import { ClickHouseNodes } from './connection.ts';
import { ClickHouseDataEraser } from './eraser.ts';
import { ClickHouseEventStore } from './event-store.ts';
import { ClickHouseExecutor } from './executor.ts';
import { ensureSchema } from './schema.ts';
import { ClickHouseSnapshotStore } from './snapshots.ts';
import { ClickHouseTriggerProgress } from './trigger-progress.ts';
import { parseClickHouseUrl, redactUrl } from './url.ts';
import { sql } from '../../audience/compile/sql.ts';

export interface ClickHouseStorage extends Storage {
  events: ClickHouseEventStore;
  nodes: ClickHouseNodes;
}

/** The audience engine on ClickHouse (audience-engine.ts). */
export function clickHouseAudienceEngine(executor: ClickHouseExecutor): ClickHouseAudienceEngine {
  return new ClickHouseAudienceEngine(executor);
}

/** AUDEX_TRIGGER_SETTLE_MS: how old a seq must be before trigger passes read it (ingest-seq.ts). */
function triggerSettleMs(): number {
  const v = Number(process.env.AUDEX_TRIGGER_SETTLE_MS ?? 5000);
  return Number.isFinite(v) && v >= 0 ? v : 5000;
}

export async function open(options: StorageOptions): Promise<ClickHouseStorage> {
  if (!options.eventsUrl)
    throw new StorageError('other', 'the ClickHouse backend needs --events-url / AUDEX_EVENTS_URL');
  const nodes = new ClickHouseNodes(parseClickHouseUrl(options.eventsUrl));
  try {
    for (let n = 0; n < nodes.nodeCount; n++) await nodes.ping(n);
    await ensureSchema(nodes);
    const events = await ClickHouseEventStore.open(nodes, undefined, {
      fileReader: { threads: options.threads, memoryLimit: options.memoryLimit },
    });
    const executor = new ClickHouseExecutor(nodes);
    const audiences = clickHouseAudienceEngine(executor);
    const snapshots = new ClickHouseSnapshotStore(nodes, audiences);
    options.log?.info('ClickHouse event store open', {
      url: redactUrl(options.eventsUrl),
      shards: nodes.nodeCount,
    });
    return {
      events,
      nodes,
      audiences,
      snapshots,
      executor,
      eraser: new ClickHouseDataEraser(nodes, snapshots),
      triggerProgress: new ClickHouseTriggerProgress(nodes, undefined, triggerSettleMs()),
      // Nothing to fold in the background: snapshots aggregate the events directly.
      maintenance: { stats: { appendInserts: events.stats }, start() {}, stop: async () => {} },
      memoryUsage: async () => {
        if (nodes.isClosed) return [];
        const rows = await nodes.rows(sql`SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'`);
        return [{ tag: 'clickhouse_server', bytes: Number(rows[0]?.value ?? 0) }];
      },
      close: async () => {
        await events.close();
        await nodes.close();
      },
    };
  } catch (err) {
    await nodes.close();
    throw err;
  }
}
