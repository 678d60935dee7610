// The hand-written row writer (appendRow) against the original generic writer (one closure per
// EVENT_COLUMNS entry, reproduced below): both stores must hold the same rows, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { DuckDBAppender } from '@duckdb/node-api';
import { DuckDbEventStore } from './event-store.ts';
import { baseEvent, realisticEvent } from '../../../test/helpers/event-fixtures.ts';
import { EVENTS_TABLE, isNullableColumn } from './schema.ts';
import { StorageError } from '../errors.ts';
import { EVENT_COLUMNS, type NewEvent, type ParamValue, type UserPropertyValue } from '../../domain/event.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'audex-rows-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---- reference: the writer appendRow replaced (generic, per-column closures, original encoders)
function refValue(v: ParamValue): string {
  if ('string_value' in v) return `{"s":${JSON.stringify(v.string_value)}}`;
  if ('int_value' in v) return `{"i":${v.int_value.toString()}}`;
  return `{"d":${Number.isFinite(v.double_value) ? JSON.stringify(v.double_value) : 'null'}}`;
}
function refParams(p: Record<string, ParamValue>): string {
  return `{${Object.entries(p)
    .map(([k, v]) => `${JSON.stringify(k)}:${refValue(v)}`)
    .join(',')}}`;
}
function refProps(p: Record<string, UserPropertyValue>): string {
  return `{${Object.entries(p)
    .map(
      ([k, v]) =>
        `${JSON.stringify(k)}:${refValue(v.value).slice(0, -1)},"t":${v.set_timestamp_micros.toString()}}`,
    )
    .join(',')}}`;
}
function bigintReplacer(_key: string, v: unknown): unknown {
  if (typeof v !== 'bigint') return v;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v.toString();
}
function referenceAppend(ap: DuckDBAppender, e: NewEvent, seq: bigint): void {
  for (const [name, type] of EVENT_COLUMNS) {
    if (name === 'ingest_seq') ap.appendBigInt(seq);
    else if (name === 'event_params') ap.appendVarchar(refParams(e.event_params ?? {}));
    else if (name === 'user_properties') ap.appendVarchar(refProps(e.user_properties ?? {}));
    else if (name === 'items') ap.appendVarchar(JSON.stringify(e.items ?? [], bigintReplacer));
    else {
      const v = (e as unknown as Record<string, unknown>)[name];
      if (v === null || v === undefined) {
        if (!isNullableColumn(name)) throw new Error(`required ${name}`);
        ap.appendNull();
      } else if (type === 'BIGINT') ap.appendBigInt(v as bigint);
      else if (type === 'INTEGER') ap.appendInteger(v as number);
      else if (type === 'DOUBLE') ap.appendDouble(v as number);
      else if (type === 'BOOLEAN') ap.appendBoolean(v as boolean);
      else ap.appendVarchar(v as string);
    }
  }
}

/** Every column as text (DuckDB prints doubles shortest-exact, -0.0 and nan included). */
const DUMP = `SELECT ${EVENT_COLUMNS.map(([n]) => `${n}::VARCHAR`).join(', ')} FROM ${EVENTS_TABLE} ORDER BY ingest_seq`;

async function dump(store: DuckDbEventStore): Promise<unknown[][]> {
  const rows = await store.db.reader().all(DUMP);
  return rows.map((r) => Object.values(r));
}

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('', '"', '\\', '\u0000', 'é😀', '\ud800', "'); DROP TABLE events; --"),
);
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option(a, { nil: null });
const paramValue: fc.Arbitrary<ParamValue> = fc.oneof(
  text.map((s) => ({ string_value: s })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((i) => ({ int_value: i })),
  fc.double().map((d) => ({ double_value: d })),
);
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const doubleEdge = fc.oneof(fc.double(), fc.constantFrom(-0, 0.1, 1e300, 5e-324, NaN, Infinity, -Infinity));
const arbEvent: fc.Arbitrary<NewEvent> = fc
  .record({
    property_id: int64,
    stream_id: text,
    user_pseudo_id: text,
    user_id: opt(text),
    event_name: text,
    event_timestamp: int64,
    received_at: int64,
    ga_session_id: opt(int64),
    ga_session_number: opt(fc.integer()),
    event_params: fc.dictionary(text, paramValue, { maxKeys: 5 }),
    user_properties: fc.dictionary(text, fc.record({ value: paramValue, set_timestamp_micros: int64 }), {
      maxKeys: 3,
    }),
    device_category: opt(text),
    device_is_limited_ad_tracking: opt(fc.boolean()),
    geo_city: opt(text),
    traffic_source_name: opt(text),
    ecommerce_purchase_revenue: opt(doubleEdge),
    ecommerce_refund_value: opt(doubleEdge),
    items: fc.array(
      fc.record({ item_id: text, price: fc.double({ noNaN: true, noDefaultInfinity: true }), n: int64 }),
      { maxLength: 2 },
    ),
    consent_ad_user_data: fc.constantFrom('GRANTED', 'DENIED', null),
    non_personalized_ads: opt(fc.boolean()),
  })
  .map((r) => baseEvent(r as Partial<NewEvent>));

test('appendRow stores exactly what the generic per-column writer stored (random and edge events)', async (t) => {
  const events = [
    ...fc.sample(arbEvent, { numRuns: 400, seed: 42 }),
    ...Array.from({ length: 50 }, (_, i) => realisticEvent(i)),
    baseEvent(),
  ];
  const store = await DuckDbEventStore.open({ dataDir: tempDir(t) });
  t.after(() => store.close());
  const ref = await DuckDbEventStore.open({ dataDir: tempDir(t) });
  t.after(() => ref.close());
  await store.append(events);
  await ref.db.writer.exclusive(async (con) => {
    const ap = await con.createAppender(EVENTS_TABLE);
    events.forEach((e, i) => {
      referenceAppend(ap, e, BigInt(i + 1));
      ap.endRow();
    });
    ap.flushSync();
    ap.closeSync();
  });
  const [got, want] = [await dump(store), await dump(ref)];
  assert.equal(got.length, events.length);
  for (let i = 0; i < want.length; i++) assert.deepEqual(got[i], want[i], `row ${i + 1}`);
  // The dump sees NULLs, -0 and NaN (not vacuous): at least one of each was generated.
  const flat = got.flat();
  assert.ok(flat.includes(null));
  assert.ok(flat.includes('-0.0') && flat.includes('nan'));
});

test('appendRow refuses every missing required field and stores every missing optional one as NULL', async (t) => {
  const store = await DuckDbEventStore.open({ dataDir: tempDir(t) });
  t.after(() => store.close());
  for (const [name] of EVENT_COLUMNS) {
    if (name === 'ingest_seq') continue;
    const e: NewEvent = { ...baseEvent(), [name]: null };
    if (name === 'event_params' || name === 'user_properties' || name === 'items') {
      // Missing maps are stored as empty ones, as before.
      await store.append([e]);
      continue;
    }
    if (isNullableColumn(name)) {
      await store.append([e]);
      const rows = await store.db
        .reader()
        .all(`SELECT ${name} AS v FROM ${EVENTS_TABLE} ORDER BY ingest_seq DESC LIMIT 1`);
      assert.equal(rows[0]?.v, null, name);
    } else {
      await assert.rejects(
        store.append([e]),
        (err: unknown) =>
          err instanceof StorageError && err.kind === 'constraint' && err.message.includes(name),
        name,
      );
    }
  }
  const empty = await store.db
    .reader()
    .all(
      `SELECT DISTINCT event_params, user_properties, items FROM ${EVENTS_TABLE} WHERE event_params = '{}'`,
    );
  assert.ok(empty.some((r) => r.user_properties === '{}' && r.items === '[]'));
});
