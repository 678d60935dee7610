// Child process for the kill -9 durability test: appends through IngestBuffer as fast as it can
// and prints "acked <first> <last> <userPrefix>" for every resolved submission. The parent kills
// it with SIGKILL and checks that every acknowledged row is in the reopened database.

import { IngestBuffer } from '../../src/ingest/buffer.ts';
import { DuckDbEventStore } from '../../src/storage/duckdb/event-store.ts';
import { realisticEvent } from './event-fixtures.ts';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: durability-child.fixture.ts <dataDir>');
const store = await DuckDbEventStore.open({ dataDir });
const buffer = new IngestBuffer(store);
let n = 0;

async function producer(id: number): Promise<void> {
  for (;;) {
    const events = Array.from({ length: 25 }, () => {
      const e = realisticEvent(n++);
      e.user_pseudo_id = `p${id}-${n}`;
      return e;
    });
    const seqs = await buffer.submit(events);
    process.stdout.write(
      `acked ${seqs[0]} ${seqs[seqs.length - 1]} ${events[0]?.user_pseudo_id} ${events[24]?.user_pseudo_id}\n`,
    );
  }
}

process.stdout.write('ready\n');
await Promise.all([0, 1, 2, 3].map(producer));
