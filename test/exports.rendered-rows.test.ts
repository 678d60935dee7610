// Pre-rendered export rows (src/storage/duckdb/rendered-rows.ts) and the DuckDB snapshot store's
// JSON pages built on them: byte-exact equality with the SQL rendering for hostile strings, pages
// at any offset/limit, one render for concurrent first queries, drop, restart, fallback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbEventStore } from '../src/storage/duckdb/event-store.ts';
import { DuckDbAudienceEngine } from '../src/storage/duckdb/members.ts';
import { DuckDbSnapshotStore, type ExportDimensionName } from '../src/storage/duckdb/snapshots.ts';
import { RenderedRows, type RowsProducer } from '../src/storage/duckdb/rendered-rows.ts';
import type { RawJson } from '../src/domain/raw-json.ts';
import { captureWarnings } from './helpers/warnings.ts';

const ALL: ExportDimensionName[] = [
  'deviceId',
  'userId',
  'isAdsPersonalizationAllowed',
  'isLimitedAdTracking',
];

// Hostile values: JSON escapes, control characters (NUL, the producer's \x01/\x02 separators, CR,
// LF), separators of the file format (',' '{' '}'), non-BMP unicode, U+2028, DEL, a long value.
const HOSTILE = [
  'a"b\\c',
  'line\nbreak\r\n\ttab',
  `${String.fromCharCode(0)}nul${String.fromCharCode(1)}soh${String.fromCharCode(2)}stx${String.fromCharCode(31)}`,
  'héllo ✓ 😀 \u2028\u2029 </script>',
  '},{"value":"x"}]},{',
  ',,,\n,',
  `del${String.fromCharCode(127)}`,
  'x'.repeat(5000),
  '',
  '\\u0000 not an escape',
];

/** A snapshot table like materialize() writes (rn order), with hostile values every few rows. */
async function makeSnapshot(
  snapshots: DuckDbSnapshotStore,
  db: DuckDbEventStore['db'],
  id: string,
  n: number,
) {
  await db.writer.run(`CREATE TEMP TABLE IF NOT EXISTS hostile (k INTEGER, v VARCHAR)`);
  await db.writer.run(`DELETE FROM hostile`);
  for (let k = 0; k < HOSTILE.length; k++)
    await db.writer.run(`INSERT INTO hostile VALUES ($1, $2)`, [k, HOSTILE[k]!]);
  await db.writer.run(`CREATE OR REPLACE TABLE export_snapshot_${id} AS
SELECT i::BIGINT AS rn,
  CASE WHEN i % 13 = 5 THEN (SELECT v FROM hostile WHERE k = i % ${HOSTILE.length}) || i::VARCHAR
       ELSE lpad(i::VARCHAR, 10, '0') || '.1700000000' END AS device_id,
  CASE WHEN i % 3 = 0 THEN NULL WHEN i % 7 = 1 THEN (SELECT v FROM hostile WHERE k = (i * 7) % ${HOSTILE.length})
       ELSE 'user-' || i::VARCHAR END AS user_id,
  ['true', 'false', '(not set)'][1 + i % 3] AS ads_personalization,
  ['(not set)', 'true', 'false'][1 + (i // 3) % 3] AS limited_ad_tracking
FROM range(${n}) t(i) ORDER BY rn`);
  void snapshots;
}

function bytesOf(r: RawJson): Buffer {
  return typeof r.data === 'string' ? Buffer.from(r.data) : r.data;
}

describe('pre-rendered snapshot rows (DuckDB store)', () => {
  let dir: string;
  let store: DuckDbEventStore;
  let snapshots: DuckDbSnapshotStore;
  const open = async () => {
    store = await DuckDbEventStore.open({ dataDir: dir });
    snapshots = new DuckDbSnapshotStore(store.db, new DuckDbAudienceEngine(store.db));
  };
  const rowsDir = () => join(dir, 'export-rows');
  const filesOf = (id: string) =>
    existsSync(rowsDir()) ? readdirSync(rowsDir()).filter((f) => f.startsWith(`${id}.`)) : [];
  const sqlPage = async (id: string, offset: number, limit: number, dims: ExportDimensionName[]) =>
    Buffer.from(`[${await snapshots.readRowsJsonSql(id, offset, limit, dims)}]`);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'audex-rendered-'));
    await open();
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('pages are byte-identical to the SQL rendering, hostile strings included, at any offset/limit', async () => {
    const N = 1000;
    await makeSnapshot(snapshots, store.db, 'h1', N);
    const windows: [number, number][] = [
      [0, 1],
      [0, N],
      [0, 250_000],
      [1, 1],
      [5, 13],
      [17, 101],
      [333, 334],
      [N - 1, 1],
      [N - 1, 10],
      [N - 7, 250_000],
      [N, 10],
      [N + 5, 10],
      [10_000_000, 1],
    ];
    for (const dims of [
      ALL,
      ['userId', 'deviceId'] as ExportDimensionName[],
      ['isLimitedAdTracking'] as ExportDimensionName[],
    ]) {
      for (const [offset, limit] of windows) {
        const got = await snapshots.readRowsJson('h1', offset, limit, dims);
        assert.ok(Buffer.isBuffer(got.data), 'served from the rendered file');
        assert.deepEqual(
          bytesOf(got),
          await sqlPage('h1', offset, limit, dims),
          `${dims} ${offset}+${limit}`,
        );
      }
    }
    // The values themselves: hostile strings survive, a null userId is "".
    const all = (await snapshots.readRowsJson('h1', 0, N, ALL)).toValue() as {
      dimensionValues: { value: string }[];
    }[];
    assert.equal(all.length, N);
    const rows = await snapshots.read('h1', 0, N);
    for (let i = 0; i < N; i++) {
      assert.deepEqual(
        all[i]!.dimensionValues.map((v) => v.value),
        [
          rows[i]!.deviceId,
          rows[i]!.userId ?? '',
          rows[i]!.isAdsPersonalizationAllowed,
          rows[i]!.isLimitedAdTracking,
        ],
      );
    }
    assert.ok(all.some((r) => r.dimensionValues[0]!.value.startsWith('line\nbreak')));
    assert.ok(all.some((r) => r.dimensionValues[0]!.value.startsWith(String.fromCharCode(0))));
    assert.ok(
      all.some((r) => r.dimensionValues[1]!.value === '😀' || r.dimensionValues[1]!.value.includes('😀')),
    );
    // One pair of files per dimension list, no temporary leftovers.
    assert.deepEqual(filesOf('h1').sort(), [
      'h1.deviceId-userId-isAdsPersonalizationAllowed-isLimitedAdTracking.idx',
      'h1.deviceId-userId-isAdsPersonalizationAllowed-isLimitedAdTracking.rows',
      'h1.isLimitedAdTracking.idx',
      'h1.isLimitedAdTracking.rows',
      'h1.userId-deviceId.idx',
      'h1.userId-deviceId.rows',
    ]);
  });

  test('a snapshot larger than one conversion chunk: pages across chunk boundaries match', async () => {
    const N = 120_000; // ~13 MB of JSON: more than one 8 MB chunk of the streaming pass
    await makeSnapshot(snapshots, store.db, 'big', N);
    for (const [offset, limit] of [
      [0, 250_000],
      [70_001, 3],
      [N - 50_001, 50_000],
    ] as [number, number][]) {
      assert.deepEqual(
        bytesOf(await snapshots.readRowsJson('big', offset, limit, ALL)),
        await sqlPage('big', offset, limit, ALL),
      );
    }
    await snapshots.drop('big');
  });

  test('an empty snapshot renders to [] pages', async () => {
    await makeSnapshot(snapshots, store.db, 'empty', 0);
    const got = await snapshots.readRowsJson('empty', 0, 10, ALL);
    assert.equal(bytesOf(got).toString(), '[]');
    assert.equal(filesOf('empty').length, 2);
  });

  test('concurrent first queries render once', async () => {
    await makeSnapshot(snapshots, store.db, 'c1', 500);
    const rendered = snapshots.renderedRows();
    const page = rendered.page.bind(rendered);
    let produced = 0;
    rendered.page = (id, dims, offset, limit, produce, expected) =>
      page(
        id,
        dims,
        offset,
        limit,
        async (p, o) => {
          produced++;
          await produce(p, o);
        },
        expected,
      );
    try {
      const pages = await Promise.all(
        Array.from({ length: 8 }, (_, k) => snapshots.readRowsJson('c1', k * 50, 60, ALL)),
      );
      assert.equal(produced, 1);
      for (let k = 0; k < 8; k++) assert.deepEqual(bytesOf(pages[k]!), await sqlPage('c1', k * 50, 60, ALL));
      await snapshots.readRowsJson('c1', 0, 1, ALL);
      assert.equal(produced, 1);
    } finally {
      rendered.page = page;
    }
  });

  test('without waitForRender, pages asked for during the render come from SQL, identical; later ones from the file', async () => {
    await makeSnapshot(snapshots, store.db, 'w1', 400);
    const rendered = snapshots.renderedRows();
    const page = rendered.page.bind(rendered);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let produced = 0;
    rendered.page = (id, dims, offset, limit, produce, expected, wait) =>
      page(
        id,
        dims,
        offset,
        limit,
        async (p, o) => {
          produced++;
          await gate;
          await produce(p, o);
        },
        expected,
        wait,
      );
    try {
      const warming = snapshots.warmRowsJson('w1', ALL);
      for (const [offset, limit] of [
        [0, 10],
        [123, 200],
      ] as const) {
        const got = await snapshots.readRowsJson('w1', offset, limit, ALL, { waitForRender: false });
        assert.equal(typeof got.data, 'string', 'served by SQL while rendering');
        assert.deepEqual(bytesOf(got), await sqlPage('w1', offset, limit, ALL));
      }
      assert.equal(filesOf('w1').filter((f) => /\.(rows|idx)$/.test(f)).length, 0, 'not rendered yet');
      open();
      await warming;
      const got = await snapshots.readRowsJson('w1', 123, 200, ALL, { waitForRender: false });
      assert.ok(Buffer.isBuffer(got.data), 'served from the file once rendered');
      assert.deepEqual(bytesOf(got), await sqlPage('w1', 123, 200, ALL));
      assert.equal(produced, 1, 'one render');
    } finally {
      open();
      rendered.page = page;
    }
  });

  test('drop removes the files (and list() reports snapshots that only have files)', async () => {
    await makeSnapshot(snapshots, store.db, 'd1', 50);
    await snapshots.readRowsJson('d1', 0, 10, ALL);
    assert.equal(filesOf('d1').length, 2);
    // A leftover temporary file of a crashed render counts as well.
    writeFileSync(join(rowsDir(), 'orphan.deviceId.tmp-1-1.csv'), 'x');
    assert.ok((await snapshots.list()).includes('orphan'));
    await snapshots.drop('d1');
    await snapshots.drop('orphan');
    assert.deepEqual(filesOf('d1'), []);
    assert.deepEqual(filesOf('orphan'), []);
    assert.ok(!(await snapshots.list()).includes('d1'));
    // Reading a dropped snapshot starts a render that fails and reports its SQL fallback.
    const fallback = captureWarnings((w) => w.code === 'AUDEX_RENDERED_ROWS' && /\bd1\b/.test(w.message));
    try {
      await assert.rejects(snapshots.readRowsJson('d1', 0, 10, ALL));
      assert.match((await fallback.until(1))[0]!.message, /snapshot d1 failed, serving them from SQL/);
    } finally {
      fallback.stop();
    }
  });

  test('after a restart the files are reused; a damaged file is rendered again', async () => {
    await makeSnapshot(snapshots, store.db, 'r1', 300);
    const before = bytesOf(await snapshots.readRowsJson('r1', 10, 100, ALL));
    const rowsFile = join(
      rowsDir(),
      'r1.deviceId-userId-isAdsPersonalizationAllowed-isLimitedAdTracking.rows',
    );
    const idxFile = rowsFile.replace(/\.rows$/, '.idx');
    const ino = statSync(rowsFile).ino;
    await store.close();
    await open();
    assert.deepEqual(bytesOf(await snapshots.readRowsJson('r1', 10, 100, ALL)), before);
    assert.equal(statSync(rowsFile).ino, ino, 'reused, not rendered again');
    // A truncated index (e.g. a crash without fsync) is not trusted.
    await store.close();
    truncateSync(idxFile, 100);
    await open();
    assert.deepEqual(bytesOf(await snapshots.readRowsJson('r1', 10, 100, ALL)), before);
    assert.notEqual(statSync(rowsFile).ino, ino, 'rendered again');
  });

  test('when the file cannot be made, pages come from SQL, identical', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'audex-rendered-fallback-'));
    const s2 = await DuckDbEventStore.open({ dataDir: d2 });
    try {
      const snaps2 = new DuckDbSnapshotStore(s2.db, new DuckDbAudienceEngine(s2.db));
      writeFileSync(join(d2, 'export-rows'), 'not a folder');
      const fallback = captureWarnings((w) => w.code === 'AUDEX_RENDERED_ROWS');
      try {
        await makeSnapshot(snaps2, s2.db, 'f1', 200);
        const got = await snaps2.readRowsJson('f1', 3, 150, ALL);
        assert.equal(typeof got.data, 'string', 'served by SQL');
        assert.deepEqual(bytesOf(got), Buffer.from(`[${await snaps2.readRowsJsonSql('f1', 3, 150, ALL)}]`));
        const [warning] = await fallback.until(1);
        assert.match(warning!.message, /snapshot f1 failed, serving them from SQL/);
      } finally {
        fallback.stop();
      }
    } finally {
      await s2.close();
      rmSync(d2, { recursive: true, force: true });
    }
  });
});

/** Writes `rn \x01 json \n` lines for the given row texts, in the given order. */
function csvProducer(rows: string[], order: (ordered: boolean) => number[], calls: boolean[]): RowsProducer {
  return async (path, ordered) => {
    calls.push(ordered);
    writeFileSync(
      path,
      order(ordered)
        .map((i) => `${i}\x01${rows[i]}\n`)
        .join(''),
    );
  };
}

describe('RenderedRows (module)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'audex-rendered-mod-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const rows = Array.from({ length: 40 }, (_, i) =>
    JSON.stringify({ dimensionValues: [{ value: `v${i},"é"` }] }),
  );
  const expected = (a: number, b: number) => `[${rows.slice(a, b).join(',')}]`;
  const inOrder = () => rows.map((_, i) => i);

  test('pages at arbitrary offsets and limits, past the end, limit beyond the rest', async () => {
    const rr = new RenderedRows({ dir: join(dir, 'a') });
    const calls: boolean[] = [];
    const produce = csvProducer(rows, inOrder, calls);
    for (let offset = 0; offset <= 42; offset += 3)
      for (const limit of [1, 2, 7, 40, 1000]) {
        const page = await rr.page('s1', ['deviceId'], offset, limit, produce, async () => 40);
        assert.equal(page?.toString(), expected(offset, Math.min(40, offset + limit)), `${offset}+${limit}`);
      }
    assert.deepEqual(calls, [false]);
  });

  test('rows out of rn order are produced again with ORDER BY; never in order means no file', async () => {
    const rr = new RenderedRows({ dir: join(dir, 'b') });
    const calls: boolean[] = [];
    const shuffled = (ordered: boolean) => (ordered ? inOrder() : [1, 0, ...inOrder().slice(2)]);
    const page = await rr.page('s1', ['deviceId'], 0, 40, csvProducer(rows, shuffled, calls), async () => 40);
    assert.equal(page?.toString(), expected(0, 40));
    assert.deepEqual(calls, [false, true]);

    const errors: unknown[] = [];
    const rr2 = new RenderedRows({ dir: join(dir, 'b2'), onError: (e) => errors.push(e) });
    const never = csvProducer(rows, () => [0, 2, 1], []);
    assert.equal(await rr2.page('s1', ['deviceId'], 0, 40, never, async () => 3), null);
    await new Promise((r) => setImmediate(r));
    assert.equal(errors.length, 1);
    assert.deepEqual(readdirSync(join(dir, 'b2')), [], 'no file, no temporary file');
  });

  test('a failing producer leaves no file; the failure is remembered (no render per page)', async () => {
    const rr = new RenderedRows({ dir: join(dir, 'c') });
    let calls = 0;
    const failing: RowsProducer = async (path) => {
      calls++;
      writeFileSync(path, `0\x01${rows[0]}\n1\x01{"half`); // then the engine dies
      throw new Error('disk full');
    };
    assert.equal(await rr.page('s1', ['deviceId'], 0, 10, failing, async () => 40), null);
    assert.equal(await rr.page('s1', ['deviceId'], 0, 10, failing, async () => 40), null);
    assert.equal(calls, 1);
    assert.deepEqual(readdirSync(join(dir, 'c')), []);
  });

  test('a new instance (restart) reuses finished files; a wrong row count is rendered again', async () => {
    const sub = join(dir, 'd');
    const calls: boolean[] = [];
    await new RenderedRows({ dir: sub }).page(
      's1',
      ['userId'],
      0,
      1,
      csvProducer(rows, inOrder, calls),
      async () => 40,
    );
    assert.deepEqual(calls, [false]);
    const refuse: RowsProducer = async () => {
      throw new Error('must not render');
    };
    const again = new RenderedRows({ dir: sub });
    assert.equal(
      (await again.page('s1', ['userId'], 38, 5, refuse, async () => 40))?.toString(),
      expected(38, 40),
    );
    const calls2: boolean[] = [];
    const third = new RenderedRows({ dir: sub });
    await third.page('s1', ['userId'], 0, 1, csvProducer(rows, inOrder, calls2), async () => 41);
    assert.deepEqual(calls2, [false]);
  });

  test('a released page lends its memory to the next page; an unreleased one does not', async () => {
    const rr = new RenderedRows({ dir: join(dir, 'f') });
    const produce = csvProducer(rows, inOrder, []);
    const p1 = (await rr.page('s1', ['deviceId'], 0, 40, produce, async () => 40))!;
    const p2 = (await rr.page('s1', ['deviceId'], 0, 20, produce, async () => 40))!;
    assert.notEqual(p2.buffer, p1.buffer);
    rr.release(p1);
    const p3 = (await rr.page('s1', ['deviceId'], 5, 10, produce, async () => 40))!;
    assert.equal(p3.buffer, p1.buffer, 'reused');
    assert.equal(p3.toString(), expected(5, 15));
    const p4 = (await rr.page('s1', ['deviceId'], 0, 40, produce, async () => 40))!;
    assert.notEqual(p4.buffer, p3.buffer, 'p3 is still in use');
    assert.equal(p4.toString(), expected(0, 40));
    assert.equal(p3.toString(), expected(5, 15), 'untouched by the later page');
    for (const p of [p2, p3, p4]) rr.release(p);
  });

  test('drop waits for a render in flight, then removes the files', async () => {
    const sub = join(dir, 'e');
    const rr = new RenderedRows({ dir: sub });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: RowsProducer = async (path, ordered) => {
      await gate;
      await csvProducer(rows, inOrder, [])(path, ordered);
    };
    const pending = rr.page('s1', ['deviceId'], 0, 5, slow, async () => 40);
    await new Promise((r) => setTimeout(r, 20));
    const dropped = rr.drop('s1');
    release();
    // The page that started the render is served from the files, or (they were dropped under
    // it) answers null so that the caller serves it from SQL.
    const got = await pending;
    assert.ok(got === null || got.toString() === expected(0, 5));
    await dropped;
    assert.deepEqual(readdirSync(sub), []);
    assert.deepEqual(await rr.snapshotIds(), []);
  });
});
