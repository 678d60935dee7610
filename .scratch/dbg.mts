import { compileAudienceQuery } from '../src/audience/compile/index.ts';
import { clickhouseDialect } from '../src/audience/compile/clickhouse-dialect.ts';
import { BUILTIN_AUDIENCES } from '../src/audience/validate.ts';
const req = { propertyId: 1n, config: { createTimeMicros: 1_717_200_000_000_000n, backfillDays: 30, timeZone: 'UTC', ignoreEventNamesForAdjacency: [] }, asOfMicros: 1_717_977_600_000_000n };
try { console.log(compileAudienceQuery(BUILTIN_AUDIENCES[0]!.definition, req as never, clickhouseDialect, 'sql').query.sql); } catch (e) { console.log('ERR', e); }
