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
// (event-store.ts) value for value; test/import-workers.duckdb.test.ts checks that both store the same rows,
// column by column.

import type { DuckDBAppender } from '@duckdb/node-api';
import { EVENT_COLUMNS, encodeParams, encodeUserProperties, type NewEvent } from '../../domain/event.ts';
import { StorageError } from '../errors.ts';

const NULL = 0;
const STRING = 1;
/** The kind of a string cell (readers outside this file that walk `text`). */
export const STRING_KIND = STRING;
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

function required(name: string): never {
  throw new StorageError('constraint', `event field ${name} is required`);
}

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

/** The stored text of the items column (appendRow and the flat rows both use it). */
export function itemsJson(items: Record<string, unknown>[] | null | undefined): string {
  return !items || items.length === 0 ? '[]' : JSON.stringify(items, bigintReplacer);
}

/** Builds a FlatRows from events, one at a time. */
export class FlatRowsWriter {
  private readonly kinds: Uint8Array;
  private readonly nums: Float64Array;
  private readonly bigs: BigInt64Array;
  private readonly lens: Uint32Array;
  /** The strings so far, concatenated as they come (V8 keeps a rope, flattened once). */
  private text = '';
  private n = 0;

  constructor(private readonly capacity: number) {
    const cells = capacity * CELLS_PER_ROW;
    this.kinds = new Uint8Array(cells);
    // A cell holds a number or a bigint, never both: one buffer, two views.
    this.nums = new Float64Array(cells);
    this.bigs = new BigInt64Array(this.nums.buffer);
    this.lens = new Uint32Array(cells);
  }

  get rows(): number {
    return this.n;
  }

  /** Encodes one event; throws StorageError 'constraint' on a missing required field, as appendRow does. */
  push(e: NewEvent): void {
    if (this.n >= this.capacity) throw new Error('FlatRowsWriter is full');
    // Written out column by column, in CELLS order, like appendRow (direct property reads stay
    // monomorphic; a loop over column names reading e[name] cost as much as parsing the row).
    // test/import-workers.duckdb.test.ts checks the stored rows against appendRow's.
    this.c = this.n * CELLS_PER_ROW;
    this.reqBig(e.property_id, 'property_id');
    this.reqStr(e.stream_id, 'stream_id');
    this.reqStr(e.platform, 'platform');
    this.reqStr(e.event_name, 'event_name');
    this.reqBig(e.event_timestamp, 'event_timestamp');
    this.reqStr(e.event_date, 'event_date');
    this.reqBig(e.received_at, 'received_at');
    this.reqStr(e.source, 'source');
    this.reqStr(e.user_pseudo_id, 'user_pseudo_id');
    this.str(e.user_id);
    this.big(e.ga_session_id);
    this.int(e.ga_session_number);
    this.str(encodeParams(e.event_params ?? {}));
    this.str(encodeUserProperties(e.user_properties ?? {}));
    this.str(e.device_category);
    this.str(e.device_operating_system);
    this.str(e.device_operating_system_version);
    this.str(e.device_browser);
    this.str(e.device_browser_version);
    this.str(e.device_language);
    this.str(e.device_mobile_brand_name);
    this.str(e.device_mobile_model_name);
    this.bool(e.device_is_limited_ad_tracking);
    this.str(e.geo_continent);
    this.str(e.geo_sub_continent);
    this.str(e.geo_country);
    this.str(e.geo_country_id);
    this.str(e.geo_region);
    this.str(e.geo_city);
    this.str(e.traffic_source_source);
    this.str(e.traffic_source_medium);
    this.str(e.traffic_source_name);
    this.str(e.ecommerce_transaction_id);
    this.dbl(e.ecommerce_purchase_revenue);
    this.dbl(e.ecommerce_refund_value);
    this.str(itemsJson(e.items));
    this.str(e.consent_ad_user_data);
    this.str(e.consent_ad_personalization);
    this.bool(e.non_personalized_ads);
    this.n++;
  }

  /** Next cell to write. */
  private c = 0;

  private str(v: string | null | undefined): void {
    if (v === null || v === undefined) this.kinds[this.c++] = NULL;
    else {
      this.kinds[this.c] = STRING;
      this.lens[this.c++] = v.length;
      this.text += v;
    }
  }
  private reqStr(v: string | null | undefined, name: string): void {
    if (v === null || v === undefined) required(name);
    this.str(v);
  }
  private big(v: bigint | null | undefined): void {
    if (v === null || v === undefined) this.kinds[this.c++] = NULL;
    else {
      this.kinds[this.c] = BIG;
      this.bigs[this.c++] = v;
    }
  }
  private reqBig(v: bigint | null | undefined, name: string): void {
    if (v === null || v === undefined) required(name);
    this.big(v);
  }
  private int(v: number | null | undefined): void {
    if (v === null || v === undefined) this.kinds[this.c++] = NULL;
    else {
      this.kinds[this.c] = INT;
      this.nums[this.c++] = v;
    }
  }
  private dbl(v: number | null | undefined): void {
    if (v === null || v === undefined) this.kinds[this.c++] = NULL;
    else {
      this.kinds[this.c] = DOUBLE;
      this.nums[this.c++] = v;
    }
  }
  private bool(v: boolean | null | undefined): void {
    this.kinds[this.c++] = v === null || v === undefined ? NULL : v ? TRUE : FALSE;
  }

  finish(): FlatRows {
    const cells = this.n * CELLS_PER_ROW;
    const full = this.n === this.capacity;
    const nums = full ? this.nums : this.nums.slice(0, cells);
    return {
      rows: this.n,
      kinds: full ? this.kinds : this.kinds.slice(0, cells),
      nums,
      bigs: full ? this.bigs : new BigInt64Array(nums.buffer),
      lens: full ? this.lens : this.lens.slice(0, cells),
      text: this.text,
    };
  }
}

/**
 * A copy of `f` with some string cells replaced (`patches`: row -> cell -> new value, null for
 * NULL). Used when collection fills a row's device and geography from its session
 * (flat-sessions.ts); rare, so a plain rebuild of the text.
 */
export function withStrings(f: FlatRows, patches: Map<number, Map<number, string | null>>): FlatRows {
  const kinds = f.kinds.slice();
  const nums = f.nums.slice();
  const lens = f.lens.slice();
  let text = '';
  let off = 0;
  for (let r = 0; r < f.rows; r++) {
    const patch = patches.get(r);
    const base = r * CELLS_PER_ROW;
    for (let c = 0; c < CELLS_PER_ROW; c++) {
      const i = base + c;
      const own = f.kinds[i] === STRING ? f.text.slice(off, (off += f.lens[i]!)) : null;
      const v = patch?.has(c) ? patch.get(c)! : own;
      if (patch?.has(c)) {
        if (v === null) kinds[i] = NULL;
        else kinds[i] = STRING;
      }
      if (v !== null && kinds[i] === STRING) {
        lens[i] = v.length;
        text += v;
      }
    }
  }
  return { rows: f.rows, kinds, nums, bigs: new BigInt64Array(nums.buffer), lens, text };
}

/** The buffers to transfer with postMessage (the text is copied). */
export function transferList(f: FlatRows): ArrayBuffer[] {
  return [f.kinds.buffer, f.nums.buffer, f.lens.buffer] as ArrayBuffer[];
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
