// EventStore on ClickHouse.
//
// Appends: group commit. Concurrent append() calls are queued; one INSERT (JSONEachRow) at a time
// carries every call queued since the previous one, and each call resolves when the INSERT that
// carried it returned: ClickHouse has the rows (on a cluster, insert_distributed_sync makes that
// "every shard has its rows"). Several audex processes may write one database: ingest_seq comes
// from the clock and this process's writer slot (ingest-seq.ts has the decision and what it
// guarantees), and is given to a call's events when the INSERT carrying them is sent, so a seq is
// never older than its INSERT.
//
// Imports: rows go to a stage table (NDJSON parsed here; Parquet read and mapped by an in-process
// DuckDB, file-import.ts), then one INSERT … SELECT moves them into the events with their final
// ingest_seq, and the ledger row follows. ClickHouse has no multi-statement transactions, so the
// move is announced first and settled after a crash (import-moves.ts): an import is stored whole
// or not at all, and once. A stage table's name carries its writer, so a process starting drops
// only the stages of writers that are gone, never those of a live process's import.

import { randomBytes } from 'node:crypto';
import type { EventStore, ImportLedgerEntry, ImportReport } from '../contract.ts';
import type { NewEvent, StoredEvent } from '../../domain/event.ts';
import { ident, join, param, sql, type Fragment } from '../../audience/compile/sql.ts';
import type { ClickHouseNodes } from './connection.ts';
import { decodeEventRow, encodeEventLine, encodeEventRest } from './codec.ts';
import {
  IngestSequence,
  claimWriterSlot,
  lastSeqOfTick,
  liveWriters,
  SLOT_BITS,
  tickOf,
  type WriterSlot,
} from './ingest-seq.ts';
import { CH_EVENT_COLUMNS, EVENTS, LEDGER, eventsTableDdl, table } from './schema.ts';
import {
  ImportMoves,
  ledgerLine,
  moveStatement,
  newMoveId,
  writeLedgerRow,
  type ImportMove,
} from './import-moves.ts';
import { StorageError } from '../errors.ts';
import { sendMappedFile, type FileReaderLimits } from './file-import.ts';

const STAGE_PREFIX = 'import_stage_';
/** `import_stage_<writer>_<random>`; before writers were named, `import_stage_<random>`. */
const STAGE_NAME = /^import_stage_(?:([0-9a-f]{16})_)?[0-9a-f]{16}$/;

export const ALL_COLUMNS: Fragment = join(
  CH_EVENT_COLUMNS.map((c) => ident(c.name)),
  ', ',
);

interface Pending {
  /** Each event's line without its ingest_seq (encodeEventRest). */
  rests: string[];
  resolve: (seqs: bigint[]) => void;
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

export interface ClickHouseWriterOptions {
  /** A writer slot lapses when its heartbeat is older than this (default 60 s). */
  leaseMs?: number;
  /** The in-process DuckDB that reads imported files (file-import.ts): its threads and memory limit. */
  fileReader?: FileReaderLimits;
  /** How long an announced import move counts as possibly in flight (import-moves.ts; tests). */
  moveGraceMs?: number;
}

export class ClickHouseEventStore implements EventStore {
  private pending: Pending[] = [];
  private flushing = false;
  private readonly writes = new SerialQueue();
  /** For the metrics and the benches: INSERTs sent by append and the calls they carried. */
  readonly stats = { inserts: 0, appendCalls: 0 };

  private lastBeat: number;
  private beating: ReturnType<typeof setInterval> | null = null;
  private readonly moves: ImportMoves;

  private constructor(
    private readonly nodes: ClickHouseNodes,
    private readonly seqs: IngestSequence,
    private readonly slot: WriterSlot,
    private readonly nowMicros: () => bigint,
    private readonly leaseMs: number,
    private readonly fileReader: FileReaderLimits,
    moveGraceMs: number | undefined,
  ) {
    this.lastBeat = Date.now();
    this.moves = new ImportMoves(nodes, nowMicros, moveGraceMs);
    // The heartbeat keeps the writer slot; if it cannot be renewed for most of the lease, appends
    // stop (writeGuard) before another process could take the slot over.
    this.beating = setInterval(
      () => {
        this.slot.beat().then(
          () => (this.lastBeat = Date.now()),
          () => undefined,
        );
      },
      Math.max(50, Math.floor(leaseMs / 4)),
    );
    this.beating.unref();
  }

  static async open(
    nodes: ClickHouseNodes,
    nowMicros: () => bigint = () => BigInt(Date.now()) * 1000n,
    opts: ClickHouseWriterOptions = {},
  ): Promise<ClickHouseEventStore> {
    const leaseMs = opts.leaseMs ?? 60_000;
    const slot = await claimWriterSlot(nodes, nowMicros, leaseMs);
    // Above every stored seq's tick, and every tick an import reserved (its rows may not be
    // stored): a restart, or a slot taken over, never reuses a seq.
    const stored = (await highWaterMark(nodes)) >> SLOT_BITS;
    const reserved = await new ImportMoves(nodes, nowMicros).lastReservedTick();
    const floor = stored > reserved ? stored : reserved;
    return new ClickHouseEventStore(
      nodes,
      new IngestSequence(slot.slot, floor, nowMicros),
      slot,
      nowMicros,
      leaseMs,
      opts.fileReader ?? {},
      opts.moveGraceMs,
    );
  }

  /** This process's writer slot (tests, logs). */
  get writerSlot(): number {
    return this.slot.slot;
  }

  private writeGuard(): void {
    if (this.beating === null) throw new StorageError('other', 'the ClickHouse event store is closed');
    if (Date.now() - this.lastBeat > (this.leaseMs * 3) / 4)
      throw new StorageError(
        'other',
        'the ingest writer slot could not be renewed in ClickHouse; refusing to write with a slot another process may take over',
      );
  }

  private get events(): Fragment {
    return table(this.nodes.target.database, EVENTS);
  }

  append(events: NewEvent[]): Promise<bigint[]> {
    if (events.length === 0) return Promise.resolve([]);
    // Encoding first: a bad event fails its own call, never the batch it would have joined.
    let rests: string[];
    try {
      this.writeGuard();
      rests = events.map(encodeEventRest);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return new Promise<bigint[]>((resolve, reject) => {
      this.pending.push({ rests, resolve, reject });
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
        const seqs = batch.map(() => [] as bigint[]);
        try {
          await this.writes.run(() => {
            // The seqs are taken when the INSERT is sent (ingest-seq.ts: the trigger watermark
            // counts on a seq being no older than its INSERT).
            let lines = '';
            batch.forEach((p, b) => {
              seqs[b] = this.seqs.take(p.rests.length);
              p.rests.forEach((rest, i) => (lines += `{"ingest_seq":${seqs[b]![i]!.toString()},${rest}`));
            });
            return this.nodes.insertJsonLines(this.events, lines);
          });
          this.stats.inserts++;
          batch.forEach((p, b) => p.resolve(seqs[b]!));
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

  private async ledgerResult(propertyId: bigint, importId: string): Promise<string | null> {
    const rows = await this.nodes.rows(
      sql`SELECT result FROM ${table(this.nodes.target.database, LEDGER)} WHERE property_id = ${param(propertyId)} AND import_id = ${param(importId)} ORDER BY created_at LIMIT 1`,
    );
    return rows.length > 0 ? String(rows[0]!.result) : null;
  }

  /** The ledger's result, after settling a move of this import that a crash left open. */
  async importResult(propertyId: bigint, importId: string): Promise<string | null> {
    const first = await this.ledgerResult(propertyId, importId);
    if (first !== null) return first;
    for (const m of await this.moves.open({ propertyId, importId }))
      if ((await this.moves.settle(m)) === 'in-flight')
        throw new StorageError(
          'unavailable',
          `the import with importId ${importId} is still being stored by an audex process; retry in a minute`,
        );
    return this.ledgerResult(propertyId, importId);
  }

  async importFile(
    propertyId: bigint,
    path: string,
    format: 'parquet' | 'ndjson',
    timeZone = 'UTC',
  ): Promise<number> {
    return (await this.importFileReport(propertyId, path, format, timeZone)).stored;
  }

  /**
   * A file read by an in-process DuckDB through the DuckDB backend's import mapping (same rules,
   * rejections and messages; file-import.ts), its rows sent to a stage in JSONEachRow and moved
   * into the events by commitStage (ingest_seq in file order, the ledger row after).
   */
  async importFileReport(
    propertyId: bigint,
    path: string,
    format: 'parquet' | 'ndjson',
    timeZone = 'UTC',
    ledger?: { importId: string; render: (report: ImportReport) => string },
  ): Promise<ImportReport> {
    const stage = await this.openStage();
    try {
      const t = this.stageTable(stage);
      const read = await sendMappedFile(
        path,
        format,
        { propertyId, timeZone, receivedAt: this.nowMicros(), limits: this.fileReader },
        (lines) => this.nodes.insertJsonLines(t, lines),
      );
      const report = (stored: number): ImportReport => ({
        stored,
        rejected: read.total - stored,
        examples: read.examples,
      });
      const stored = await this.commitStage(stage, propertyId, ledger?.importId ?? null, (n) =>
        ledger ? ledger.render(report(n)) : '',
      );
      return report(stored);
    } finally {
      await this.discardStage(stage).catch(() => undefined);
    }
  }

  async openStage(): Promise<string> {
    const stage = `${STAGE_PREFIX}${this.slot.writer}_${randomBytes(8).toString('hex')}`;
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
      this.writeGuard();
      const counted = await this.nodes.rows(sql`SELECT count() AS n, max(ingest_seq) AS m FROM ${t}`);
      const total = Number(counted[0]?.n);
      if (total > 0)
        await this.move(t, propertyId, importId ?? '', total, Number(counted[0]!.m), render(total));
      else if (importId !== null)
        await writeLedgerRow(this.nodes, propertyId, importId, render(0), this.nowMicros());
      await this.nodes.command(sql`DROP TABLE IF EXISTS ${t}`);
      return total;
    });
  }

  /**
   * Moves a stage's rows into the events, announced and ended (import-moves.ts). The stage's
   * ingest_seq holds each row's ordinal in the import: row i gets tick base + i.
   */
  private async move(
    stage: Fragment,
    propertyId: bigint,
    importId: string,
    rows: number,
    maxOrdinal: number,
    result: string,
  ): Promise<void> {
    const base = this.seqs.takeBlock(maxOrdinal + 1);
    const m: ImportMove = {
      id: newMoveId(),
      writer: this.slot.writer,
      slot: this.seqs.slot,
      propertyId,
      importId,
      firstTick: base,
      lastTick: base + BigInt(maxOrdinal),
      rows,
      result,
      createdAt: this.nowMicros(),
    };
    await this.moves.announce(m);
    try {
      await this.nodes.command(moveStatement(this.events, stage, m), 0, m.id);
    } catch (err) {
      // The INSERT may have been stored whole (an answer lost on the way) or in part: settled
      // now if it can be, else by a resend or the next start.
      const settled = await this.moves.settle(m, true).catch(() => 'in-flight' as const);
      if (settled !== 'completed') throw err;
      return;
    }
    if (importId !== '') await writeLedgerRow(this.nodes, propertyId, importId, result, this.nowMicros());
    await this.moves.done(m);
  }

  async discardStage(stage: string): Promise<void> {
    await this.nodes.command(sql`DROP TABLE IF EXISTS ${this.stageTable(stage)}`);
  }

  /**
   * At start: settles the moves a crash left open (import-moves.ts), then drops the stages of
   * writers that are gone (another live process's stage is its import under way; this process,
   * starting, has none under way).
   */
  async recoverInterruptedImports(): Promise<{ stages: number; moves: number }> {
    const settled = await this.moves.settleAll();
    const live = new Set(
      (await liveWriters(this.nodes, this.nowMicros, this.leaseMs))
        .map((w) => w.writer)
        .filter((w) => w !== this.slot.writer),
    );
    const rows = await this.nodes.rows(
      sql`SELECT name FROM system.tables WHERE database = ${param(this.nodes.target.database)} AND startsWith(name, ${param(STAGE_PREFIX)})`,
    );
    const stages = rows
      .map((r) => String(r.name))
      .filter((n) => {
        const owner = STAGE_NAME.exec(n);
        return owner !== null && (owner[1] === undefined || !live.has(owner[1]));
      });
    for (const s of stages) await this.discardStage(s);
    return { stages: stages.length, moves: settled.completed + settled.undone };
  }

  /**
   * `audex migrate`: events with their own ingest_seq, one INSERT (JSONEachRow). The seqs are
   * the source's (small numbers); this process's next seqs are clock-based, far above them.
   */
  async copyIn(events: StoredEvent[]): Promise<void> {
    let lines = '';
    for (const e of events) lines += encodeEventLine(e, e.ingest_seq);
    await this.writes.run(() => this.nodes.insertJsonLines(this.events, lines));
  }

  /** `audex migrate`: the source's ledger entries as they are (one INSERT). */
  async copyLedgerIn(entries: ImportLedgerEntry[]): Promise<void> {
    if (entries.length === 0) return;
    let lines = '';
    for (const e of entries) lines += ledgerLine(e);
    await this.nodes.insertJsonLines(table(this.nodes.target.database, LEDGER), lines);
  }

  /** Every ledger entry (the earliest of twins, as importResult reads it). */
  async importLedger(): Promise<ImportLedgerEntry[]> {
    const rows = await this.nodes.rows(
      sql`SELECT property_id, import_id, argMin(result, created_at) AS first_result, min(created_at) AS first_at FROM ${table(this.nodes.target.database, LEDGER)} GROUP BY property_id, import_id ORDER BY property_id, import_id`,
    );
    return rows.map((r) => ({
      propertyId: BigInt(r.property_id as string),
      importId: String(r.import_id),
      result: String(r.first_result),
      createdAtMicros: BigInt(r.first_at as string),
    }));
  }

  /** Waits for the queued appends (shutdown). */
  async drain(): Promise<void> {
    while (this.flushing || this.pending.length > 0) await new Promise((r) => setTimeout(r, 5));
  }

  /** Waits for the queued appends, then gives the writer slot up (close). */
  async close(): Promise<void> {
    await this.drain();
    if (this.beating === null) return;
    clearInterval(this.beating);
    this.beating = null;
    await this.slot.release().catch(() => undefined);
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

/**
 * The trigger logger's watermark: the highest stored seq that is also at least `settleMs` old on
 * this clock. Rows of several writers land out of seq order, so a younger seq may still have an
 * INSERT in flight below it (ingest-seq.ts).
 */
export async function settledMark(
  nodes: ClickHouseNodes,
  nowMicros: () => bigint,
  settleMs: number,
): Promise<bigint> {
  const stored = await highWaterMark(nodes);
  const settled = tickOf(nowMicros() - BigInt(settleMs) * 1000n);
  // A clock before the sequence's epoch (a test's fixed clock) settles nothing by time.
  if (settled === 0n) return stored;
  const cap = lastSeqOfTick(settled - 1n);
  return stored <= cap ? stored : cap;
}

export type { ImportReport };
