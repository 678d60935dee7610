// EventStore on ClickHouse.
//
// Appends: group commit. Concurrent append() calls are queued; one INSERT (JSONEachRow) at a time
// carries every call queued since the previous one, and each call resolves when the INSERT that
// carried it returned: ClickHouse has the rows (on a cluster, insert_distributed_sync makes that
// "every shard has its rows"). ingest_seq is handed out by this process in queue order, and one
// INSERT runs at a time, so commit order is ingest_seq order and max(ingest_seq) is a high-water
// mark. (One process writes a database: several API processes would need a shared sequence, which
// is not built.)
//
// Imports: rows go to a stage table, then one INSERT … SELECT moves them into the events with
// their final ingest_seq, and the ledger row follows. ClickHouse has no multi-statement
// transactions: a crash between the two statements leaves the rows without the ledger entry, so a
// resend of that import would store them twice (docs/deploy.md says so).

import { randomBytes } from 'node:crypto';
import type { EventStore, ImportReport } from '../contract.ts';
import type { NewEvent, StoredEvent } from '../../domain/event.ts';
import { ident, join, param, sql, type Fragment } from '../../audience/compile/sql.ts';
import type { ClickHouseNodes } from './connection.ts';
import { decodeEventRow, encodeEventLine } from './codec.ts';
import { CH_EVENT_COLUMNS, EVENTS, LEDGER, eventsTableDdl, table } from './schema.ts';
import { StorageError } from '../errors.ts';

const STAGE_PREFIX = 'import_stage_';
const STAGE_NAME = /^import_stage_[0-9a-f]{16}$/;

export const ALL_COLUMNS: Fragment = join(
  CH_EVENT_COLUMNS.map((c) => ident(c.name)),
  ', ',
);

interface Pending {
  lines: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Runs tasks one at a time, in call order. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export class ClickHouseEventStore implements EventStore {
  private seq: bigint;
  private pending: Pending[] = [];
  private flushing = false;
  private readonly writes = new SerialQueue();
  /** For the metrics and the benches: INSERTs sent by append and the calls they carried. */
  readonly stats = { inserts: 0, appendCalls: 0 };

  private constructor(
    private readonly nodes: ClickHouseNodes,
    firstSeq: bigint,
    private readonly nowMicros: () => bigint,
  ) {
    this.seq = firstSeq;
  }

  static async open(nodes: ClickHouseNodes, nowMicros?: () => bigint): Promise<ClickHouseEventStore> {
    const first = (await highWaterMark(nodes)) + 1n;
    return new ClickHouseEventStore(nodes, first, nowMicros ?? (() => BigInt(Date.now()) * 1000n));
  }

  private get events(): Fragment {
    return table(this.nodes.target.database, EVENTS);
  }

  append(events: NewEvent[]): Promise<bigint[]> {
    if (events.length === 0) return Promise.resolve([]);
    // Encoding first: a bad event fails its own call, never the batch it would have joined.
    const first = this.seq;
    let lines = '';
    const seqs: bigint[] = new Array<bigint>(events.length);
    try {
      for (let i = 0; i < events.length; i++) {
        seqs[i] = first + BigInt(i);
        lines += encodeEventLine(events[i]!, seqs[i]!);
      }
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.seq = first + BigInt(events.length);
    return new Promise<bigint[]>((resolve, reject) => {
      this.pending.push({ lines, resolve: () => resolve(seqs), reject });
      this.stats.appendCalls++;
      if (!this.flushing) void this.flushLoop();
    });
  }

  /** Sends the queued calls, one INSERT per round, until the queue is empty. */
  private async flushLoop(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          await this.writes.run(() =>
            this.nodes.insertJsonLines(this.events, batch.map((p) => p.lines).join('')),
          );
          this.stats.inserts++;
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  async readEvents(
    propertyId: bigint,
    filter: { userPseudoId?: string; limit?: number } = {},
  ): Promise<StoredEvent[]> {
    const user =
      filter.userPseudoId === undefined ? sql`` : sql` AND user_pseudo_id = ${param(filter.userPseudoId)}`;
    const limit =
      filter.limit === undefined ? sql`` : sql` LIMIT ${param(Math.max(0, Math.floor(filter.limit)))}`;
    const rows = await this.nodes.rows(
      sql`SELECT ${ALL_COLUMNS} FROM ${this.events} WHERE property_id = ${param(propertyId)}${user} ORDER BY user_pseudo_id, event_timestamp, ingest_seq${limit}`,
    );
    return rows.map(decodeEventRow);
  }

  async countEvents(propertyId: bigint): Promise<number> {
    const rows = await this.nodes.rows(
      sql`SELECT count() AS n FROM ${this.events} WHERE property_id = ${param(propertyId)}`,
    );
    return Number(rows[0]?.n ?? 0);
  }

  async countEventsByBucket(
    propertyId: bigint,
    fromMicros: bigint,
    stepMicros: bigint,
  ): Promise<Map<bigint, number>> {
    const rows = await this.nodes.rows(
      sql`SELECT intDiv(event_timestamp, ${param(stepMicros)}) AS bucket, count() AS n FROM ${this.events} WHERE property_id = ${param(propertyId)} AND event_timestamp >= ${param(fromMicros)} GROUP BY bucket`,
    );
    return new Map(rows.map((r) => [BigInt(r.bucket as string), Number(r.n)]));
  }

  async latestEvents(propertyId: bigint, limit: number): Promise<StoredEvent[]> {
    const rows = await this.nodes.rows(
      sql`SELECT ${ALL_COLUMNS} FROM ${this.events} WHERE property_id = ${param(propertyId)} ORDER BY ingest_seq DESC LIMIT ${param(Math.max(0, Math.floor(limit)))}`,
    );
    return rows.map(decodeEventRow);
  }

  async importResult(propertyId: bigint, importId: string): Promise<string | null> {
    const rows = await this.nodes.rows(
      sql`SELECT result FROM ${table(this.nodes.target.database, LEDGER)} WHERE property_id = ${param(propertyId)} AND import_id = ${param(importId)} ORDER BY created_at LIMIT 1`,
    );
    return rows.length > 0 ? String(rows[0]!.result) : null;
  }

  async openStage(): Promise<string> {
    const stage = `${STAGE_PREFIX}${randomBytes(8).toString('hex')}`;
    await this.nodes.command(eventsTableDdl(this.nodes.target.database, stage));
    return stage;
  }

  /** Appends events to a stage with their ordinal in the ingest_seq column (JSONEachRow, one INSERT). */
  async stageAppend(stage: string, events: NewEvent[], firstOrdinal: number): Promise<void> {
    const t = this.stageTable(stage);
    let lines = '';
    for (let i = 0; i < events.length; i++) lines += encodeEventLine(events[i]!, BigInt(firstOrdinal + i));
    await this.nodes.insertJsonLines(t, lines);
  }

  async commitStage(
    stage: string,
    propertyId: bigint,
    importId: string | null,
    render: (stored: number) => string,
  ): Promise<number> {
    const t = this.stageTable(stage);
    return this.writes.run(async () => {
      const counted = await this.nodes.rows(sql`SELECT count() AS n FROM ${t}`);
      const total = BigInt(counted[0]?.n as string);
      const base = this.seq;
      this.seq = base + total;
      const columns = join(
        CH_EVENT_COLUMNS.map((c) =>
          c.name === 'ingest_seq' ? sql`toInt64(ingest_seq + ${param(base)}) AS ingest_seq` : ident(c.name),
        ),
        ', ',
      );
      await this.nodes.command(sql`INSERT INTO ${this.events} SELECT ${columns} FROM ${t}`);
      if (importId !== null) await this.recordLedger(propertyId, importId, render(Number(total)));
      await this.nodes.command(sql`DROP TABLE IF EXISTS ${t}`);
      return Number(total);
    });
  }

  private async recordLedger(propertyId: bigint, importId: string, result: string): Promise<void> {
    const line = `${JSON.stringify({ property_id: propertyId.toString(), import_id: importId, result, created_at: this.nowMicros().toString() })}\n`;
    await this.nodes.insertJsonLines(table(this.nodes.target.database, LEDGER), line);
  }

  async discardStage(stage: string): Promise<void> {
    await this.nodes.command(sql`DROP TABLE IF EXISTS ${this.stageTable(stage)}`);
  }

  async dropLeftoverStages(): Promise<number> {
    const rows = await this.nodes.rows(
      sql`SELECT name FROM system.tables WHERE database = ${param(this.nodes.target.database)} AND startsWith(name, ${param(STAGE_PREFIX)})`,
    );
    const stages = rows.map((r) => String(r.name)).filter((n) => STAGE_NAME.test(n));
    for (const s of stages) await this.discardStage(s);
    return stages.length;
  }

  /** Waits for the queued appends (shutdown). */
  async drain(): Promise<void> {
    while (this.flushing || this.pending.length > 0) await new Promise((r) => setTimeout(r, 5));
  }

  private stageTable(stage: string): Fragment {
    if (!STAGE_NAME.test(stage)) throw new StorageError('other', `bad stage ${JSON.stringify(stage)}`);
    return table(this.nodes.target.database, stage);
  }
}

/** The latest stored ingest_seq (0 when empty). */
export async function highWaterMark(nodes: ClickHouseNodes): Promise<bigint> {
  const rows = await nodes.rows(
    sql`SELECT max(ingest_seq) AS m, count() AS n FROM ${table(nodes.target.database, EVENTS)}`,
  );
  return Number(rows[0]?.n ?? 0) === 0 ? 0n : BigInt(rows[0]!.m as string);
}

export type { ImportReport };
