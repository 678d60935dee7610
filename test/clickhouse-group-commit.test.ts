// Group commit on ClickHouse: concurrent append() calls share INSERTs (one in flight at a time,
// carrying every call queued meanwhile), each call resolves only when the rows are stored, and
// ingest_seq follows call order. Uses a private ClickHouse 18.16 server (fails when missing).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type ClickHouseStorage } from '../src/storage/clickhouse/index.ts';
import { baseEvent } from './helpers/event-fixtures.ts';
import { freshDatabaseName, sharedClickHouse } from './helpers/clickhouse-server.ts';

let storage: ClickHouseStorage;
let dataDir: string;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'audex-ch-gc-'));
  const server = await sharedClickHouse();
  storage = await open({ dataDir, eventsUrl: server.eventsUrl(freshDatabaseName()) });
});
after(async () => {
  await storage?.close();
  rmSync(dataDir, { recursive: true, force: true });
  await (await sharedClickHouse()).stop();
});

test('concurrent appends are batched into fewer INSERTs and acknowledged once stored', async () => {
  const calls = 200;
  const before = { ...storage.events.stats };
  const acknowledged: number[] = [];
  const results = await Promise.all(
    Array.from({ length: calls }, async (_, i) => {
      const seqs = await storage.events.append([
        baseEvent({
          property_id: 3n,
          user_pseudo_id: `d${i}`,
          event_timestamp: 1_735_689_600_000_000n + BigInt(i),
        }),
      ]);
      // Acknowledged means readable now, by anyone.
      acknowledged.push((await storage.events.readEvents(3n, { userPseudoId: `d${i}` })).length);
      return seqs[0]!;
    }),
  );
  const inserts = storage.events.stats.inserts - before.inserts;
  assert.equal(storage.events.stats.appendCalls - before.appendCalls, calls);
  assert.ok(inserts < calls / 2, `${calls} calls took ${inserts} INSERTs`);
  assert.deepEqual(acknowledged, new Array<number>(calls).fill(1), 'each acknowledged row is stored');
  for (let i = 1; i < results.length; i++) assert.ok(results[i]! > results[i - 1]!);
  assert.equal(await storage.events.countEvents(3n), calls);
});
