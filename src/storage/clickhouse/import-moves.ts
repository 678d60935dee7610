// Imports all-or-nothing on ClickHouse, which has no multi-statement transactions.
//
// An import's rows reach `events` by one INSERT … SELECT from its stage table: the move. A crash
// can fall between the move and the ledger row (a resend would then store the rows twice), and
// ClickHouse may keep part of a large INSERT (each block becomes its own part as it is written).
// So a move is announced before it runs, by a row in `import_moves` holding what identifies its
// rows (the property, and the block of ticks reserved for them in this writer's slot: no other
// row can hold a seq of that slot in that range, see ingest-seq.ts), its row count and its
// result; a second row ends it once the ledger has the result.
//
// A move left open is settled by whoever next meets it: a resend of its importId (importResult),
// or any audex process starting (recoverInterruptedImports). Settling counts the move's rows:
//   - every row is stored: the import happened; the ledger row is written, so a resend gets the
//     first result and stores nothing;
//   - some are stored: they are deleted (a mutation on every node, waited for): the import did
//     not happen, and a resend stores it whole;
//   - none: it did not happen.
// A move whose INSERT still runs on a node (system.processes, by its query id: the move id) is
// left alone, and so is one announced less than IN_FLIGHT_GRACE_MS ago: its writer may not have
// sent the INSERT yet. (A writer stalled longer than that between the two requests is the one
// case this cannot tell apart from a crash.)

import { randomBytes } from 'node:crypto';
import { ident, join, param, sql, type Fragment } from '../../audience/compile/sql.ts';
import type { ImportLedgerEntry } from '../contract.ts';
import type { ClickHouseNodes } from './connection.ts';
import { deleteEvents } from './eraser.ts';
import { SLOT_BITS } from './ingest-seq.ts';
import { CH_EVENT_COLUMNS, EVENTS, IMPORT_MOVES, LEDGER, table } from './schema.ts';

/** How long after its announcement a move counts as possibly in flight (see above). */
export const IN_FLIGHT_GRACE_MS = 30_000;

const OPEN = 0;
const DONE = 1;
const UNDONE = 2;

export interface ImportMove {
  /** Also the query id of its INSERT … SELECT. */
  id: string;
  writer: string;
  slot: number;
  propertyId: bigint;
  /** '' for an import without an importId. */
  importId: string;
  /** The ticks reserved for its rows: row i of the stage gets tick firstTick + i. */
  firstTick: bigint;
  lastTick: bigint;
  rows: number;
  /** The ledger's text for the import (when it has an importId). */
  result: string;
  createdAt: bigint;
}

export type Settled = 'completed' | 'undone' | 'in-flight';

export function newMoveId(): string {
  return `import-move-${randomBytes(12).toString('hex')}`;
}

/** The move's rows in `events`: its property, its slot, its block of ticks. */
export function moveRows(m: ImportMove): Fragment {
  const lo = (m.firstTick << SLOT_BITS) | BigInt(m.slot);
  const hi = (m.lastTick << SLOT_BITS) | BigInt(m.slot);
  return sql`property_id = ${param(m.propertyId)} AND ingest_seq >= ${param(lo)} AND ingest_seq <= ${param(hi)} AND bitAnd(ingest_seq, ${param((1n << SLOT_BITS) - 1n)}) = ${param(BigInt(m.slot))}`;
}

/** The move itself: the stage's rows (those matching `where`, all by default) into `events`. */
export function moveStatement(
  events: Fragment,
  stage: Fragment,
  m: ImportMove,
  where: Fragment = sql`1`,
): Fragment {
  const columns = join(
    CH_EVENT_COLUMNS.map((c) =>
      c.name === 'ingest_seq'
        ? sql`toInt64((ingest_seq + ${param(m.firstTick)}) * ${param(1n << SLOT_BITS)} + ${param(BigInt(m.slot))}) AS ingest_seq`
        : ident(c.name),
    ),
    ', ',
  );
  return sql`INSERT INTO ${events} SELECT ${columns} FROM ${stage} WHERE ${where}`;
}

export class ImportMoves {
  constructor(
    private readonly nodes: ClickHouseNodes,
    private readonly nowMicros: () => bigint,
    private readonly graceMs = IN_FLIGHT_GRACE_MS,
  ) {}

  private get t(): Fragment {
    return table(this.nodes.target.database, IMPORT_MOVES);
  }

  private async write(m: ImportMove, state: number): Promise<void> {
    const line = JSON.stringify({
      move_id: m.id,
      writer: m.writer,
      slot: m.slot,
      property_id: m.propertyId.toString(),
      import_id: m.importId,
      first_tick: m.firstTick.toString(),
      last_tick: m.lastTick.toString(),
      rows: m.rows,
      result: m.result,
      created_at: m.createdAt.toString(),
      state,
    });
    await this.nodes.insertJsonLines(this.t, `${line}\n`);
  }

  /** Announces a move; its INSERT may be sent once this returned. */
  announce(m: ImportMove): Promise<void> {
    return this.write(m, OPEN);
  }

  /** Ends a move whose rows are all stored and whose ledger row (if any) is written. */
  done(m: ImportMove): Promise<void> {
    return this.write(m, DONE);
  }

  /** The moves announced and never ended, of one import or of all. */
  async open(filter: { propertyId: bigint; importId: string } | null = null): Promise<ImportMove[]> {
    const where =
      filter === null
        ? sql`1`
        : sql`property_id = ${param(filter.propertyId)} AND import_id = ${param(filter.importId)}`;
    const rows = await this.nodes.rows(
      // Aliases differ from the columns: 18.16 would read them in the WHERE.
      sql`SELECT move_id, any(writer) AS w, any(slot) AS s, any(property_id) AS p, any(import_id) AS i, any(first_tick) AS ft, any(last_tick) AS lt, any(rows) AS n, any(result) AS r, min(created_at) AS at FROM ${this.t} WHERE ${where} GROUP BY move_id HAVING max(state) = ${param(OPEN)} ORDER BY at`,
    );
    return rows.map((r) => ({
      id: String(r.move_id),
      writer: String(r.w),
      slot: Number(r.s),
      propertyId: BigInt(r.p as string),
      importId: String(r.i),
      firstTick: BigInt(r.ft as string),
      lastTick: BigInt(r.lt as string),
      rows: Number(r.n),
      result: String(r.r),
      createdAt: BigInt(r.at as string),
    }));
  }

  /** The last tick any move reserved (0 when none): a writer taking a slot over starts above it. */
  async lastReservedTick(): Promise<bigint> {
    const rows = await this.nodes.rows(sql`SELECT max(last_tick) AS m, count() AS n FROM ${this.t}`);
    return Number(rows[0]?.n ?? 0) === 0 ? 0n : BigInt(rows[0]!.m as string);
  }

  /** Whether the move's INSERT runs on any node. */
  private async running(m: ImportMove): Promise<boolean> {
    for (let node = 0; node < this.nodes.nodeCount; node++) {
      const rows = await this.nodes.rowsOn(
        node,
        sql`SELECT count() AS n FROM system.processes WHERE query_id = ${param(m.id)} OR initial_query_id = ${param(m.id)}`,
      );
      if (Number(rows[0]?.n ?? 0) > 0) return true;
    }
    return false;
  }

  /**
   * Settles an open move (see the top of this file). `ownFailure`: the caller is the move's own
   * writer, whose INSERT returned an error, so it is not about to be sent.
   */
  async settle(m: ImportMove, ownFailure = false): Promise<Settled> {
    const ageMs = Number((this.nowMicros() - m.createdAt) / 1000n);
    if (!ownFailure && ageMs < this.graceMs) return 'in-flight';
    if (await this.running(m)) return 'in-flight';
    const counted = await this.nodes.rows(
      sql`SELECT count() AS n FROM ${table(this.nodes.target.database, EVENTS)} WHERE ${moveRows(m)}`,
    );
    const stored = Number(counted[0]?.n ?? 0);
    if (stored === m.rows && m.rows > 0) {
      if (m.importId !== '') await this.recordLedgerOnce(m);
      await this.write(m, DONE);
      return 'completed';
    }
    if (stored > 0) await deleteEvents(this.nodes, moveRows(m));
    await this.write(m, UNDONE);
    return 'undone';
  }

  private async recordLedgerOnce(m: ImportMove): Promise<void> {
    const ledger = table(this.nodes.target.database, LEDGER);
    const have = await this.nodes.rows(
      sql`SELECT count() AS n FROM ${ledger} WHERE property_id = ${param(m.propertyId)} AND import_id = ${param(m.importId)}`,
    );
    if (Number(have[0]?.n ?? 0) > 0) return;
    await writeLedgerRow(this.nodes, m.propertyId, m.importId, m.result, this.nowMicros());
  }

  /** Settles every open move that can be; returns what became of them. */
  async settleAll(): Promise<Record<Settled, number>> {
    const out: Record<Settled, number> = { completed: 0, undone: 0, 'in-flight': 0 };
    for (const m of await this.open()) out[await this.settle(m)]++;
    return out;
  }
}

/** A ledger row as a JSONEachRow line: the result a resend of `importId` is answered with. */
export function ledgerLine(e: ImportLedgerEntry): string {
  return `${JSON.stringify({ property_id: e.propertyId.toString(), import_id: e.importId, result: e.result, created_at: e.createdAtMicros.toString() })}\n`;
}

/** Writes one ledger row. */
export async function writeLedgerRow(
  nodes: ClickHouseNodes,
  propertyId: bigint,
  importId: string,
  result: string,
  createdAt: bigint,
): Promise<void> {
  await nodes.insertJsonLines(
    table(nodes.target.database, LEDGER),
    ledgerLine({ propertyId, importId, result, createdAtMicros: createdAt }),
  );
}
