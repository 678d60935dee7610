import { ClickHouseAudienceEngine } from '../src/storage/clickhouse/audience-engine.ts';
import { ClickHouseExecutor } from '../src/storage/clickhouse/executor.ts';
import { ClickHouseNodes } from '../src/storage/clickhouse/connection.ts';
import { parseClickHouseUrl } from '../src/storage/clickhouse/url.ts';
import { parseAudience } from '../src/audience/validate.ts';
import * as X from '../src/audience/fixtures/examples.ts';
const engine = new ClickHouseAudienceEngine(new ClickHouseExecutor(new ClickHouseNodes(parseClickHouseUrl('clickhouse://127.0.0.1:1/unused'))));
for (const [k, v] of Object.entries(X)) { try { const e = engine.explain({ propertyId: 1n, audience: parseAudience(v as never), config: { createTimeMicros: 1_717_200_000_000_000n, backfillDays: 30, timeZone: 'UTC', ignoreEventNamesForAdjacency: [] }, asOfMicros: 1_717_977_600_000_000n }); console.log(k, e.plan, e.plan === 'sql' && process.argv[2] === k ? e.query.sql : ''); } catch (err) { console.log(k, 'ERR', String(err).slice(0, 100)); } }
