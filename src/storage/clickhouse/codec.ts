// Events to and from ClickHouse's JSONEachRow: one line per event on the way in (Int64 values as
// quoted decimal strings, exact beyond 2^53; booleans as 0/1), and rows back into StoredEvents.

import {
  decodeParams,
  decodeUserProperties,
  encodeParams,
  encodeUserProperties,
  NULLABLE_EVENT_COLUMNS,
  type NewEvent,
  type StoredEvent,
} from '../../domain/event.ts';
import { StorageError } from '../errors.ts';
import { CH_EVENT_COLUMNS } from './schema.ts';

function bigintReplacer(_key: string, v: unknown): unknown {
  if (typeof v !== 'bigint') return v;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v.toString();
}

function encodeValue(name: string, type: string, v: unknown): string {
  if (name === 'event_params') return JSON.stringify(encodeParams((v ?? {}) as NewEvent['event_params']));
  if (name === 'user_properties')
    return JSON.stringify(encodeUserProperties((v ?? {}) as NewEvent['user_properties']));
  if (name === 'items') {
    const items = v as Record<string, unknown>[] | null | undefined;
    return JSON.stringify(!items || items.length === 0 ? '[]' : JSON.stringify(items, bigintReplacer));
  }
  if (v === null || v === undefined) {
    if (!NULLABLE_EVENT_COLUMNS.has(name))
      throw new StorageError('constraint', `event field ${name} is required`);
    return 'null';
  }
  switch (type) {
    case 'BIGINT':
      return `"${(v as bigint).toString()}"`;
    case 'INTEGER':
      return String(Math.trunc(v as number));
    case 'BOOLEAN':
      return v ? '1' : '0';
    case 'DOUBLE': {
      const d = v as number;
      // JSON has no NaN/Infinity; ClickHouse reads them from these quoted spellings.
      return Number.isFinite(d) ? String(d) : Number.isNaN(d) ? '"nan"' : d > 0 ? '"inf"' : '"-inf"';
    }
    default:
      return JSON.stringify(v);
  }
}

/** One JSONEachRow line (with its newline) for an event stored with ingest_seq `seq`. */
export function encodeEventLine(e: NewEvent, seq: bigint): string {
  const rec = e as unknown as Record<string, unknown>;
  let out = '{';
  for (let i = 0; i < CH_EVENT_COLUMNS.length; i++) {
    const c = CH_EVENT_COLUMNS[i]!;
    const v = c.name === 'ingest_seq' ? seq : rec[c.name];
    out += (i === 0 ? '"' : ',"') + c.name + '":' + encodeValue(c.name, c.type, v);
  }
  return out + '}\n';
}

/**
 * The same line without ingest_seq and its opening brace (`"col":v,…}\n`): the append queue
 * encodes (and so validates) an event at once but gives it its ingest_seq only when its INSERT is
 * sent (`{"ingest_seq":N,` + this; JSONEachRow does not care about the key order).
 */
export function encodeEventRest(e: NewEvent): string {
  const rec = e as unknown as Record<string, unknown>;
  let out = '';
  for (const c of CH_EVENT_COLUMNS) {
    if (c.name === 'ingest_seq') continue;
    out += (out === '' ? '"' : ',"') + c.name + '":' + encodeValue(c.name, c.type, rec[c.name]);
  }
  return out + '}\n';
}

function decodeValue(name: string, type: string, v: unknown): unknown {
  if (name === 'event_params') return decodeParams(v as string | null);
  if (name === 'user_properties') return decodeUserProperties(v as string | null);
  if (name === 'items') return v ? JSON.parse(v as string) : [];
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'BIGINT':
      return BigInt(v as string | number);
    case 'BOOLEAN':
      return Number(v) !== 0;
    case 'DOUBLE':
      return typeof v === 'number' ? v : Number(v);
    case 'INTEGER':
      return Number(v);
    default:
      return v;
  }
}

/** A JSONEachRow row of every event column as a StoredEvent. */
export function decodeEventRow(row: Record<string, unknown>): StoredEvent {
  const out: Record<string, unknown> = {};
  for (const c of CH_EVENT_COLUMNS) {
    if (!(c.name in row)) throw new Error(`event query lacks column ${c.name}`);
    out[c.name] = decodeValue(c.name, c.type, row[c.name]);
  }
  return out as unknown as StoredEvent;
}
