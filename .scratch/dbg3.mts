import { compileAudienceQuery } from '../src/audience/compile/index.ts';
import { clickhouseDialect } from '../src/audience/compile/clickhouse-dialect.ts';
import { inlineCtes } from '../src/storage/clickhouse/audience-engine.ts';
import { parseAudience } from '../src/audience/validate.ts';
import * as X from '../src/audience/fixtures/examples.ts';
const req = { propertyId: 1n, config: { createTimeMicros: 1_717_200_000_000_000n, backfillDays: 30, timeZone: 'UTC', ignoreEventNamesForAdjacency: [] }, asOfMicros: 1_717_977_600_000_000n };
const q = compileAudienceQuery(parseAudience((X as never)[process.argv[2]!]), req as never, clickhouseDialect, 'sql').query.sql;
console.log(q); console.log('---'); console.log(inlineCtes(q));
