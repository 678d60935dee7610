// The ClickHouse scratch engine of the backend-parameterised tests (backends.ts): the backend's
// tables in a fresh database, loaded with exactly the StoredEvents a test gives (ingest_seq kept),
// and the backend's audience engine over them. The database is dropped on close.

import type { StoredEvent } from '../../src/domain/event.ts';
import { ident, sql } from '../../src/audience/compile/sql.ts';
import { ClickHouseNodes } from '../../src/storage/clickhouse/connection.ts';
import { encodeEventLine } from '../../src/storage/clickhouse/codec.ts';
import { ClickHouseExecutor } from '../../src/storage/clickhouse/executor.ts';
import { clickHouseAudienceEngine } from '../../src/storage/clickhouse/index.ts';
import { EVENTS, EVENTS_LOCAL, ensureSchema, table } from '../../src/storage/clickhouse/schema.ts';
import { parseClickHouseUrl } from '../../src/storage/clickhouse/url.ts';
import type { ScratchEngine } from './backends.ts';

export async function openClickHouseScratch(eventsUrl: string): Promise<ScratchEngine> {
  const nodes = new ClickHouseNodes(parseClickHouseUrl(eventsUrl));
  await ensureSchema(nodes);
  const { database, cluster } = nodes.target;
  return {
    engine: clickHouseAudienceEngine(new ClickHouseExecutor(nodes)),
    async load(events: readonly StoredEvent[]) {
      const local = cluster === null ? EVENTS : EVENTS_LOCAL;
      for (let n = 0; n < nodes.nodeCount; n++)
        await nodes.command(sql`TRUNCATE TABLE ${table(database, local)}`, n);
      await nodes.insertJsonLines(
        table(database, EVENTS),
        events.map((e) => encodeEventLine(e, e.ingest_seq)).join(''),
      );
    },
    async close() {
      for (let n = 0; n < nodes.nodeCount; n++)
        await nodes.command(sql`DROP DATABASE IF EXISTS ${ident(database)}`, n);
      await nodes.close();
    },
  };
}
