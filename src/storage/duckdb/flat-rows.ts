// The hand-over format between the import workers (ndjson-worker.ts), which parse, validate and
// encode rows, and the one writer, which appends them: every value of a batch in a few typed
// arrays and one string, so a batch crosses threads as a handful of transferred buffers and one
// string copy. Structured cloning the event objects instead costs more than the parsing it saves
// (40 keyed properties per event).
//
// Cells are the events table's columns in EVENT_COLUMNS order without ingest_seq (the writer
// hands that out). Per cell: a kind, and its value in `nums` (INTEGER, DOUBLE), `bigs` (BIGINT)
// or, for strings (VARCHAR and the JSON columns' compact encodings), its length in `lens` with
// the characters in `text`, cells concatenated in order. Encoding follows appendRow
// (event-store.ts) value for value; flat-rows.duckdb.test.ts checks that both store the same rows.

import type { DuckDBAppender } from '@duckdb/node-api';
import {
  EVENT_COLUMNS,
  EVENT_SCHEMA,
  encodeParams,
  encodeUserProperties,
  type NewEvent,
} from '../../domain/event.ts';
import { StorageError } from '../errors.ts';

const NULL = 0;
const STRING = 1;
const BIG = 2;
const INT = 3;
const DOUBLE = 4;
const TRUE = 5;
const FALSE = 6;

/** The stored columns a worker encodes: every column but ingest_seq. */
const CELLS = EVENT_COLUMNS.filter(([name]) => name !== 'ingest_seq');
export const CELLS_PER_ROW = CELLS.length;
/** ingest_seq's position among the table's columns: the writer appends it before this cell. */
const SEQ_BEFORE = EVENT_COLUMNS.findIndex(([name]) => name === 'ingest_seq');
/** The columns appendRow requires (the schema's NOT NULL ones; JSON columns always get a value). */
const REQUIRED = new Set<string>(
  EVENT_SCHEMA.filter((c) => !('nullable' in c) && c.type !== 'JSON').map((c) => c.name),
);

export interface FlatRows {
  rows: number;
  kinds: Uint8Array;
  nums: Float64Array;
  bigs: BigInt64Array;
  lens: Uint32Array;
  text: string;
}

/** Cell positions the writer's sessionizer reads and fills. */
export const CELL = Object.fromEntries(CELLS.map(([name], i) => [name, i])) as Record<
  (typeof CELLS)[number][0],
  number
>;

function bigintReplacer(_key: string, v: unknown): unknown {
  if (typeof v !== 'bigint') return v;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v.toString();
}

/** Builds a FlatRows from events, one at a time. */
export class FlatRowsWriter {
  private readonly kinds: Uint8Array;
  private readonly nums: Float64Array;
  private readonly bigs: BigInt64Array;
  private readonly lens: Uint32Array;
  private readonly parts: string[] = [];
  private n = 0;

  constructor(private readonly capacity: number) {
    const cells = capacity * CELLS_PER_ROW;
    this.kinds = new Uint8Array(cells);
    this.nums = new Float64Array(cells);
    this.bigs = new BigInt64Array(cells);
    this.lens = new Uint32Array(cells);
  }

  get rows(): number {
    return this.n;
  }

  /** Encodes one event; throws StorageError 'constraint' on a missing required field, as appendRow does. */
  push(e: NewEvent): void {
    if (this.n >= this.capacity) throw new Error('FlatRowsWriter is full');
    const ev = e as unknown as Record<string, unknown>;
    let c = this.n * CELLS_PER_ROW;
    for (const [name, type] of CELLS) {
      let v: unknown;
      if (name === 'event_params') v = encodeParams(e.event_params ?? {});
      else if (name === 'user_properties') v = encodeUserProperties(e.user_properties ?? {});
      else if (name === 'items')
        v = !e.items || e.items.length === 0 ? '[]' : JSON.stringify(e.items, bigintReplacer);
      else v = ev[name];
      if (v === null || v === undefined) {
        if (REQUIRED.has(name)) throw new StorageError('constraint', `event field ${name} is required`);
        this.kinds[c] = NULL;
      } else if (type === 'BIGINT') {
        this.kinds[c] = BIG;
        this.bigs[c] = v as bigint;
      } else if (type === 'INTEGER') {
        this.kinds[c] = INT;
        this.nums[c] = v as number;
      } else if (type === 'DOUBLE') {
        this.kinds[c] = DOUBLE;
        this.nums[c] = v as number;
      } else if (type === 'BOOLEAN') {
        this.kinds[c] = v ? TRUE : FALSE;
      } else {
        const s = v as string;
        this.kinds[c] = STRING;
        this.lens[c] = s.length;
        this.parts.push(s);
      }
      c++;
    }
    this.n++;
  }

  finish(): FlatRows {
    const cells = this.n * CELLS_PER_ROW;
    return {
      rows: this.n,
      kinds: this.kinds.slice(0, cells),
      nums: this.nums.slice(0, cells),
      bigs: this.bigs.slice(0, cells),
      lens: this.lens.slice(0, cells),
      text: this.parts.join(''),
    };
  }
}

/** The buffers to transfer with postMessage (the text is copied). */
export function transferList(f: FlatRows): ArrayBuffer[] {
  return [f.kinds.buffer, f.nums.buffer, f.bigs.buffer, f.lens.buffer] as ArrayBuffer[];
}

/**
 * Reads a FlatRows row by row, in order: the string offset moves forward as rows are read, so
 * rows must be visited in order (what the writer and the sessionizer both do).
 */
export class FlatRowsReader {
  private textAt = 0;

  constructor(readonly f: FlatRows) {}

  /** The string of one cell of the current row, given the row's text offset. */
  stringAt(row: number, cell: number, rowText: number): string {
    const base = row * CELLS_PER_ROW;
    let off = rowText;
    for (let c = 0; c < cell; c++) if (this.f.kinds[base + c] === STRING) off += this.f.lens[base + c]!;
    return this.f.text.slice(off, off + this.f.lens[base + cell]!);
  }

  /** Text offset of every row's first string (one pass). */
  rowTextOffsets(): Uint32Array {
    const out = new Uint32Array(this.f.rows);
    let off = 0;
    const { kinds, lens } = this.f;
    for (let r = 0; r < this.f.rows; r++) {
      out[r] = off;
      const base = r * CELLS_PER_ROW;
      for (let c = 0; c < CELLS_PER_ROW; c++) if (kinds[base + c] === STRING) off += lens[base + c]!;
    }
    return out;
  }

  /** Appends the next row (row numbers in order from 0) with ingest_seq `seq`. */
  appendNext(ap: DuckDBAppender, row: number, seq: bigint): void {
    const { kinds, nums, bigs, lens, text } = this.f;
    const base = row * CELLS_PER_ROW;
    for (let c = 0; c < CELLS_PER_ROW; c++) {
      if (c === SEQ_BEFORE) ap.appendBigInt(seq);
      const i = base + c;
      switch (kinds[i]) {
        case STRING: {
          const end = this.textAt + lens[i]!;
          ap.appendVarchar(text.slice(this.textAt, end));
          this.textAt = end;
          break;
        }
        case BIG:
          ap.appendBigInt(bigs[i]!);
          break;
        case INT:
          ap.appendInteger(nums[i]!);
          break;
        case DOUBLE:
          ap.appendDouble(nums[i]!);
          break;
        case TRUE:
          ap.appendBoolean(true);
          break;
        case FALSE:
          ap.appendBoolean(false);
          break;
        default:
          ap.appendNull();
      }
    }
    ap.endRow();
  }

  /** Sets a BIGINT cell (null allowed): the sessionizer's ga_session_id. */
  setBig(row: number, cell: number, v: bigint | null): void {
    const i = row * CELLS_PER_ROW + cell;
    if (v === null) this.f.kinds[i] = NULL;
    else {
      this.f.kinds[i] = BIG;
      this.f.bigs[i] = v;
    }
  }

  /** Sets an INTEGER cell (null allowed): the sessionizer's ga_session_number. */
  setInt(row: number, cell: number, v: number | null): void {
    const i = row * CELLS_PER_ROW + cell;
    if (v === null) this.f.kinds[i] = NULL;
    else {
      this.f.kinds[i] = INT;
      this.f.nums[i] = v;
    }
  }

  big(row: number, cell: number): bigint | null {
    const i = row * CELLS_PER_ROW + cell;
    return this.f.kinds[i] === BIG ? this.f.bigs[i]! : null;
  }

  int(row: number, cell: number): number | null {
    const i = row * CELLS_PER_ROW + cell;
    return this.f.kinds[i] === INT ? this.f.nums[i]! : null;
  }
}
