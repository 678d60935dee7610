// ingest_seq when several audex processes write one ClickHouse database (API processes
// collecting, workers' trigger loggers, imports).
//
// Decision: a clock-based sequence, no round trip per append. A seq is
//
//   seq = tick × 64 + slot,   tick = (µs since 2026-01-01 UTC) / 10
//
// - `slot` (0–63) is this process's writer slot, claimed at open in the `ingest_writers` table
//   (claimWriterSlot below) and kept by a heartbeat, so two live processes never share one: seqs
//   are unique across processes without any coordination per append.
// - `tick` is strictly increasing in a process: max(clock tick, previous tick + 1), and it starts
//   above every stored seq's tick (a restarted process, or a slot taken over, never reuses one).
//   One tick is 10 µs, so a process hands out 100,000 seqs a second before its ticks run ahead
//   of its clock (one DuckDB-sized writer takes about 42,000 events/s); an import runs them ahead
//   by its size / 100,000 seconds, which the clock then catches up.
// - Values stay below 2^53 until 2070, so the catalog (which keeps the export mark as a JS
//   number, like SQLite) stores them exactly.
//
// What ingest_seq still guarantees:
// - Stream order's tie-breaker: unique, and in a process in append order.
// - The export mark (`highWaterMark`, taken by the create call): max(ingest_seq) of the stored
//   rows. An event acknowledged before the create call is stored, so its seq is <= the mark: it
//   is in the snapshot, whatever the clocks say. An event whose collection started after the
//   create call returned gets a tick from its process's clock; it is above the mark unless that
//   process's clock is behind the clock of the process that wrote the mark's event by more than
//   the time in between (clock skew between machines; NTP keeps it to milliseconds), or the
//   writer of the mark ran ahead of its clock (an import just before). Then a few such events
//   may enter the snapshot: never an acknowledged event left out.
// - The trigger logger's watermark (`settledMark`): a pass reads events with seq in (W, H]. With
//   several writers rows land out of seq order (an INSERT in flight holds seqs below rows already
//   stored), so H is the mark of `settleMs` ago on this clock: every INSERT that took a seq
//   before then has returned (an INSERT times out well within it) unless clocks differ by more.
import { randomBytes } from 'node:crypto';
import { param, sql } from '../../audience/compile/sql.ts';
import type { ClickHouseNodes } from './connection.ts';
import { INGEST_WRITERS, table } from './schema.ts';
import { StorageError } from '../errors.ts';

export const SLOT_BITS = 6n;
export const SLOTS = 1 << Number(SLOT_BITS);
export const TICK_MICROS = 10n;
export const EPOCH_MICROS = 1_767_225_600_000_000n; // 2026-01-01T00:00:00Z

export function tickOf(micros: bigint): bigint {
  return micros > EPOCH_MICROS ? (micros - EPOCH_MICROS) / TICK_MICROS : 0n;
}

/** The largest seq any writer can hold for a tick (every slot of it). */
export function lastSeqOfTick(tick: bigint): bigint {
  return (tick << SLOT_BITS) | BigInt(SLOTS - 1);
}

/** One process's seqs: strictly increasing ticks, all in its slot. */
export class IngestSequence {
  private last: bigint;
  constructor(
    readonly slot: number,
    /** Ticks handed out will be above this one. */
    floorTick: bigint,
    private readonly nowMicros: () => bigint,
  ) {
    this.last = floorTick;
  }

  /** n seqs for one INSERT, in order: the first tick is max(clock, previous + 1). */
  take(n: number): bigint[] {
    const clock = tickOf(this.nowMicros());
    const first = clock > this.last ? clock : this.last + 1n;
    this.last = first + BigInt(n) - 1n;
    const out = new Array<bigint>(n);
    for (let i = 0; i < n; i++) out[i] = ((first + BigInt(i)) << SLOT_BITS) | BigInt(this.slot);
    return out;
  }

  /** A block of n ticks for an INSERT … SELECT (row i gets (first + i) × 64 + slot). */
  takeBlock(n: number): bigint {
    const clock = tickOf(this.nowMicros());
    const first = clock > this.last ? clock : this.last + 1n;
    this.last = first + BigInt(Math.max(n, 1)) - 1n;
    return first;
  }
}

export interface WriterSlot {
  slot: number;
  writer: string;
  /** Renews the claim (a heartbeat row). */
  beat(): Promise<void>;
  /** Gives the slot up (close). */
  release(): Promise<void>;
}

/** The writers holding a slot: latest heartbeat within `leaseMs`, and not released. */
export async function liveWriters(
  nodes: ClickHouseNodes,
  nowMicros: () => bigint,
  leaseMs: number,
): Promise<{ slot: number; writer: string }[]> {
  const cutoff = nowMicros() - BigInt(leaseMs) * 1000n;
  const rows = await nodes.rows(
    sql`SELECT slot, writer FROM ${table(nodes.target.database, INGEST_WRITERS)} GROUP BY slot, writer HAVING max(heartbeat) >= ${param(cutoff)} AND max(released) = 0`,
  );
  return rows.map((r) => ({ slot: Number(r.slot), writer: String(r.writer) }));
}

/**
 * Claims a free writer slot. A claim is a row (slot, writer, heartbeat); a slot is live while its
 * writer's latest heartbeat is within `leaseMs` and it has no release row. A process inserts its
 * claim, then reads the slot's live claims: it keeps the slot only if its claim is the only one.
 * Two processes racing for a slot cannot both keep it (the later reader sees the earlier claim,
 * as an INSERT is visible once it returned); when both see each other, both pick again.
 */
export async function claimWriterSlot(
  nodes: ClickHouseNodes,
  nowMicros: () => bigint,
  leaseMs: number,
): Promise<WriterSlot> {
  const t = table(nodes.target.database, INGEST_WRITERS);
  const writer = randomBytes(8).toString('hex');
  const live = () => liveWriters(nodes, nowMicros, leaseMs);
  const write = (slot: number, released: number) =>
    nodes.insertJsonLines(
      t,
      `${JSON.stringify({ slot, writer, heartbeat: nowMicros().toString(), released })}\n`,
    );
  // Claims and heartbeats older than a day are history: trimmed in the background (a mutation).
  await nodes
    .command(sql`ALTER TABLE ${t} DELETE WHERE heartbeat < ${param(nowMicros() - 86_400_000_000n)}`)
    .catch(() => undefined);
  for (let attempt = 0; attempt < 20; attempt++) {
    const taken = new Set((await live()).map((c) => c.slot));
    const free = [...Array(SLOTS).keys()].filter((s) => !taken.has(s));
    if (free.length === 0)
      throw new StorageError(
        'other',
        `all ${SLOTS} ingest writer slots of ClickHouse database ${nodes.target.database} are held by live audex processes`,
      );
    const slot = free[Math.floor(Math.random() * free.length)]!;
    await write(slot, 0);
    const rivals = (await live()).filter((c) => c.slot === slot && c.writer !== writer);
    if (rivals.length === 0)
      return { slot, writer, beat: () => write(slot, 0), release: () => write(slot, 1) };
    await write(slot, 1);
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 100));
  }
  throw new StorageError(
    'other',
    'could not claim an ingest writer slot (too many processes starting at once)',
  );
}
