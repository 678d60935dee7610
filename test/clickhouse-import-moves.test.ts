// Imports on ClickHouse are all-or-nothing across crashes (src/storage/clickhouse/import-moves.ts).
// A crash is reproduced by doing what a process does up to the moment it dies: stage the rows,
// announce the move, send all, half or none of the INSERT … SELECT, and stop (no ledger row, no
// end of the move, its writer slot gone). Then a resend of the import, or a process starting,
// must leave the import stored exactly once or not at all. On one node and on two shards (the
// partial rows are deleted on every shard). Uses private ClickHouse 18.16 servers (fails when
// missing).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { param, sql } from '../src/audience/compile/sql.ts';
import { ClickHouseNodes } from '../src/storage/clickhouse/connection.ts';
import { ClickHouseEventStore } from '../src/storage/clickhouse/event-store.ts';
import {
  ImportMoves,
  moveStatement,
  newMoveId,
  type ImportMove,
} from '../src/storage/clickhouse/import-moves.ts';
import { tickOf } from '../src/storage/clickhouse/ingest-seq.ts';
import { EVENTS, ensureSchema, table } from '../src/storage/clickhouse/schema.ts';
import { parseClickHouseUrl } from '../src/storage/clickhouse/url.ts';
import { isStorageError } from '../src/storage/errors.ts';
import type { NewEvent } from '../src/domain/event.ts';
import { baseEvent } from './helpers/event-fixtures.ts';
import { freshDatabaseName, sharedClickHouse } from './helpers/clickhouse-server.ts';

const P = 7n;
const now = () => BigInt(Date.now()) * 1000n;
const N = 40;
const T0 = 1_735_689_600_000_000n;

const rows = (tag: string): NewEvent[] =>
  Array.from({ length: N }, (_, i) =>
    baseEvent({
      property_id: P,
      user_pseudo_id: `${tag}-${i % 7}`,
      event_timestamp: T0 + BigInt(i),
    }),
  );

for (const shards of [1, 2]) {
  describe(`import moves on ${shards === 1 ? 'one node' : 'two shards'}`, () => {
    let nodes: ClickHouseNodes;
    /** The process that resends and starts: treats any move not running as settled-able. */
    let store: ClickHouseEventStore;
    let moves: ImportMoves;
    let block = 0n;

    before(async () => {
      const server = await sharedClickHouse(shards);
      nodes = new ClickHouseNodes(parseClickHouseUrl(server.eventsUrl(freshDatabaseName('audex_moves'))));
      await ensureSchema(nodes);
      store = await ClickHouseEventStore.open(nodes, now, { moveGraceMs: 0 });
      moves = new ImportMoves(nodes, now, 0);
    });
    after(async () => {
      await store?.close();
      await nodes?.close();
    });

    const count = async (): Promise<number> => store.countEvents(P);

    /**
     * What a process that died while committing an import leaves behind: its stage, the announced
     * move, `part` of the INSERT stored, no ledger row, no end; its writer slot released.
     */
    async function crashedImport(importId: string, part: 'all' | 'half' | 'none'): Promise<ImportMove> {
      const dead = await ClickHouseEventStore.open(nodes, now);
      const stage = await dead.openStage();
      await dead.stageAppend(stage, rows(importId || 'anon'), 0);
      // A block of ticks ahead of every clock here, as takeBlock reserves one.
      block += 1_000_000n;
      const first = tickOf(now()) + block;
      const m: ImportMove = {
        id: newMoveId(),
        writer: 'deaddeaddeaddead',
        slot: dead.writerSlot,
        propertyId: P,
        importId,
        firstTick: first,
        lastTick: first + BigInt(N - 1),
        rows: N,
        result: JSON.stringify({ importedRows: N }),
        createdAt: now(),
      };
      await moves.announce(m);
      const stageTable = table(nodes.target.database, stage);
      if (part !== 'none')
        await nodes.command(
          moveStatement(
            table(nodes.target.database, EVENTS),
            stageTable,
            m,
            // Not ingest_seq: the statement's own alias would shadow it.
            part === 'all' ? sql`1` : sql`event_timestamp < ${param(T0 + BigInt(N / 2))}`,
          ),
        );
      await dead.close();
      return m;
    }

    test('a crash after the move: the resend gets the first result and stores nothing more', async () => {
      const before = await count();
      await crashedImport('imp-all', 'all');
      assert.equal(await count(), before + N);
      assert.equal(await store.importResult(P, 'imp-all'), JSON.stringify({ importedRows: N }));
      assert.equal(await count(), before + N, 'stored once');
      assert.deepEqual(await moves.open({ propertyId: P, importId: 'imp-all' }), [], 'the move is ended');
      assert.equal(await store.importResult(P, 'imp-all'), JSON.stringify({ importedRows: N }));
    });

    test('a crash in the middle of the move: its rows are deleted, and the resend stores the import whole', async () => {
      const before = await count();
      await crashedImport('imp-half', 'half');
      assert.equal(await count(), before + N / 2, 'ClickHouse kept part of the INSERT');
      assert.equal(await store.importResult(P, 'imp-half'), null, 'the import did not happen');
      assert.equal(await count(), before, 'the partial rows are gone on every shard');
      const stage = await store.openStage();
      await store.stageAppend(stage, rows('imp-half'), 0);
      assert.equal(await store.commitStage(stage, P, 'imp-half', (n) => `stored ${n}`), N);
      assert.equal(await count(), before + N);
      assert.equal(await store.importResult(P, 'imp-half'), `stored ${N}`);
    });

    test('a crash before the move: nothing to undo, the import did not happen', async () => {
      const before = await count();
      await crashedImport('imp-none', 'none');
      assert.equal(await store.importResult(P, 'imp-none'), null);
      assert.equal(await count(), before);
      assert.deepEqual(await moves.open({ propertyId: P, importId: 'imp-none' }), []);
    });

    test('a move announced moments ago may still be sent: the resend is told to retry, and nothing changes', async () => {
      const before = await count();
      await crashedImport('imp-young', 'half');
      const patient = await ClickHouseEventStore.open(nodes, now);
      try {
        await assert.rejects(patient.importResult(P, 'imp-young'), (err: unknown) => {
          assert.ok(isStorageError(err) && err.kind === 'unavailable' && err.isRetriable);
          assert.match((err as Error).message, /imp-young.*retry/);
          return true;
        });
        assert.equal(await count(), before + N / 2, 'left alone');
      } finally {
        await patient.close();
      }
      assert.equal(await store.importResult(P, 'imp-young'), null, 'settled once the grace is over');
      assert.equal(await count(), before);
    });

    test('a process starting settles every open move and drops only the stages of writers that are gone', async () => {
      const before = await count();
      await crashedImport('', 'all');
      await crashedImport('', 'half');
      const live = await ClickHouseEventStore.open(nodes, now);
      try {
        const liveStage = await live.openStage();
        await live.stageAppend(liveStage, rows('live'), 0);
        const swept = await store.recoverInterruptedImports();
        assert.equal(swept.moves, 2);
        assert.ok(swept.stages >= 2, `the dead writers' stages are dropped (${swept.stages})`);
        assert.deepEqual(await moves.open(), []);
        assert.equal(await count(), before + N, 'the whole import kept, the partial one undone');
        // The live writer's import goes on: its stage is still there.
        assert.equal(await live.commitStage(liveStage, P, null, () => ''), N);
        assert.equal(await count(), before + 2 * N);
      } finally {
        await live.close();
      }
    });

    test('a writer opened after an announced move starts above the ticks it reserved', async () => {
      const m = await crashedImport('imp-floor', 'none');
      const later = await ClickHouseEventStore.open(nodes, now);
      try {
        const [seq] = await later.append([rows('floor')[0]!]);
        assert.ok(seq! >> 6n > m.lastTick, `seq ${seq} reuses a reserved tick (last ${m.lastTick})`);
      } finally {
        await later.close();
      }
    });
  });
}

after(async () => {
  for (const shards of [1, 2]) await (await sharedClickHouse(shards)).stop();
});
