// ExportService + ExportRunner at unit level: a real catalog (SQLite and PostgreSQL), a fake in-memory
// SnapshotStore and an injected clock. Query paging (int64 parsing, clamping, stable order,
// offset beyond the end), failure states, quota charged at completion, expiry, lease takeover.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogDb } from '../src/catalog/db.ts';
import { forEachCatalog, type CatalogSlot, type TestCatalog } from './helpers/catalogs.ts';
import { AudienceService } from '../src/api/service/audiences.ts';
import { ExportService, parseQueryWindow, parseInt64 } from '../src/api/service/exports.ts';
import { ExportRunner } from '../src/exports/runner.ts';
import { tokensFor } from '../src/catalog/repos/exports.ts';
import { ApiError } from '../src/domain/errors.ts';
import type { MemberRow, MembershipRequest, SnapshotStore } from '../src/storage/contract.ts';
import { RawJson } from '../src/domain/raw-json.ts';
import { StorageError } from '../src/storage/errors.ts';
import type { Principal } from '../src/auth/principal.ts';

const ADMIN: Principal = { keyId: 0, superuser: true, roles: new Map() };
const quiet = { info() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class FakeSnapshots implements SnapshotStore {
  readonly tables = new Map<string, MemberRow[]>();
  rows = 0;
  fail: string | null = null;
  /** Storage failures thrown by the next materialize calls, one per call. */
  storageFailures: StorageError[] = [];
  calls: MembershipRequest[] = [];
  async highWaterMark() {
    return 42n;
  }
  async materialize(id: string, req: MembershipRequest, onProgress?: (p: number) => void) {
    this.calls.push(req);
    if (this.fail) throw new Error(this.fail);
    const injected = this.storageFailures.shift();
    if (injected) throw injected;
    onProgress?.(50);
    const rows: MemberRow[] = [];
    for (let i = 0; i < this.rows; i++)
      rows.push({
        deviceId: `d${String(i).padStart(7, '0')}`,
        userId: i % 2 ? `u${i}` : null,
        isAdsPersonalizationAllowed: 'true',
        isLimitedAdTracking: '(not set)',
      });
    this.tables.set(id, rows);
    return rows.length;
  }
  async read(id: string, offset: number, limit: number) {
    const t = this.tables.get(id);
    if (!t) throw new Error(`no snapshot ${id}`);
    return t.slice(offset, offset + limit);
  }
  async drop(id: string) {
    this.tables.delete(id);
  }
}

function code(status: string, field?: RegExp) {
  return (e: unknown) => e instanceof ApiError && e.status === status && (!field || field.test(e.message));
}

/** The fake snapshot store has no JSON fast path, so rows come back as objects. */
function rowsOf(r: { audienceRows: unknown }): { dimensionValues: { value: string }[] }[] {
  return r.audienceRows as { dimensionValues: { value: string }[] }[];
}

describe('parseQueryWindow', () => {
  test('defaults, int64 strings and numbers, clamping, rejection', () => {
    assert.deepEqual(parseQueryWindow({}), { offset: 0n, limit: 10_000 });
    assert.deepEqual(parseQueryWindow(undefined), { offset: 0n, limit: 10_000 });
    assert.deepEqual(parseQueryWindow({ offset: '10', limit: '5' }), { offset: 10n, limit: 5 });
    assert.deepEqual(parseQueryWindow({ offset: 10, limit: 5 }), { offset: 10n, limit: 5 });
    assert.deepEqual(parseQueryWindow({ limit: '250000' }), { offset: 0n, limit: 250_000 });
    assert.deepEqual(parseQueryWindow({ limit: '250001' }), { offset: 0n, limit: 250_000 });
    assert.deepEqual(parseQueryWindow({ limit: '9223372036854775807' }), { offset: 0n, limit: 250_000 });
    assert.deepEqual(parseQueryWindow({ offset: '5000000000000' }), {
      offset: 5_000_000_000_000n,
      limit: 10_000,
    });
    assert.throws(() => parseQueryWindow({ limit: '0' }), code('INVALID_ARGUMENT', /^limit/));
    assert.throws(() => parseQueryWindow({ limit: -1 }), code('INVALID_ARGUMENT', /^limit/));
    assert.throws(() => parseQueryWindow({ offset: '-1' }), code('INVALID_ARGUMENT', /^offset/));
    assert.throws(() => parseQueryWindow({ offset: 1.5 }), code('INVALID_ARGUMENT', /^offset/));
    assert.throws(() => parseQueryWindow({ limit: '1e3' }), code('INVALID_ARGUMENT', /^limit/));
    assert.throws(() => parseInt64('9223372036854775808', 'x'), code('INVALID_ARGUMENT', /int64/));
  });
});

/** A catalog in a temp folder with properties/1 and its built-in audiences; `audience` is Purchasers. */
async function catalogWithProperty(now: number, catalog: TestCatalog) {
  const slot = await catalog.create();
  const db = await slot.open();
  await db
    .insertInto('properties')
    .values({
      account_id: 1,
      display_name: 'p',
      time_zone: 'Europe/Berlin',
      currency_code: 'EUR',
      industry_category: 'OTHER',
      create_time: now,
      update_time: now,
    })
    .execute();
  const audiences = new AudienceService(db);
  await audiences.ensureBuiltins(1);
  const audience = (await audiences.list(ADMIN, 'properties/1', {})).audiences.find(
    (a) => a.displayName === 'Purchasers',
  )!.name as string;
  return { slot, db, audiences, audience };
}

forEachCatalog((catalog) => {
  describe('long poll: GetOperation of a CREATING export', () => {
    test('answers as soon as the job ends (woken by the runner), or not done after the hold; get never holds', async () => {
      const { slot, db, audiences, audience } = await catalogWithProperty(Date.now() * 1000, catalog);
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      class GatedSnapshots extends FakeSnapshots {
        override async materialize(id: string, req: MembershipRequest, onProgress?: (p: number) => void) {
          await gate;
          return super.materialize(id, req, onProgress);
        }
      }
      const snaps = new GatedSnapshots();
      snaps.rows = 2;
      const wake: { runner?: ExportRunner } = {};
      const serviceHolding = (holdCreatingMs: number) =>
        new ExportService(db, audiences, snaps, {
          expiryHours: 72,
          maxConcurrentPerProperty: 5,
          dailyTokensPerProperty: 1000,
          backfillDays: 30,
          holdCreatingMs,
          onCreated: () => wake.runner?.kick(),
        });
      // A long hold: answered ACTIVE at once only if the finish wakes it (else CREATING after 20 s).
      const service = serviceHolding(20_000);
      const runner = new ExportRunner(service.repo, snaps, {
        leaseSeconds: 30,
        log: quiet,
        pollMs: 20,
        onFinished: (id) => service.notifyFinished(id),
      });
      wake.runner = runner;
      runner.start();
      try {
        const op = await service.create(ADMIN, 'properties/1', {
          audience,
          dimensions: [{ dimensionName: 'deviceId' }],
        });
        const name = (op.response as { name: string }).name;
        // A short hold runs out while the job waits at the gate: the operation, read again, is not done.
        assert.equal((await serviceHolding(30).getOperation(ADMIN, op.name as string)).done, false);
        // get never holds: it answers CREATING at once (a caller polling it sees progress move).
        assert.equal((await service.get(ADMIN, name)).state, 'CREATING');
        const held = service.getOperation(ADMIN, op.name as string);
        // It is holding (the job waits at the gate) before the gate is opened.
        const holding = () => service['finishWaiters'].get(Number(name.split('/').pop()))?.size ?? 0;
        while (holding() < 1) await sleep(5);
        open();
        // Woken by the finish: long before the 20 s hold would have run out.
        const done = await Promise.race([held, sleep(10_000).then(() => null)]);
        assert.ok(done, 'the held GetOperation answered when the job ended');
        assert.equal(done.done, true);
        assert.equal((done.response as { state: string; rowCount: number }).state, 'ACTIVE');
      } finally {
        open();
        await runner.stop();
        await db.destroy();
        slot.dispose();
      }
    });
  });

  describe('ExportService with the runner (fake snapshot store)', () => {
    let slot: CatalogSlot;
    let db: CatalogDb;
    let snapshots: FakeSnapshots;
    let service: ExportService;
    let runner: ExportRunner;
    let clock = Date.now() * 1000;
    let audience: string;
    const parent = 'properties/1';

    before(async () => {
      let audiences: AudienceService;
      ({ slot, db, audiences, audience } = await catalogWithProperty(clock, catalog));
      snapshots = new FakeSnapshots();
      service = new ExportService(db, audiences, snapshots, {
        expiryHours: 72,
        maxConcurrentPerProperty: 5,
        dailyTokensPerProperty: 40,
        backfillDays: 30,
        now: () => clock,
        onCreated: () => runner.kick(),
      });
      runner = new ExportRunner(service.repo, snapshots, {
        leaseSeconds: 30,
        log: quiet,
        now: () => clock,
        pollMs: 20,
        retry: { attempts: 2, baseDelayMs: 10 },
      });
      runner.start();
    });
    after(async () => {
      await runner.stop();
      await db.destroy();
      slot.dispose();
    });

    async function createAndWait(dims = ['deviceId', 'userId']) {
      const op = await service.create(ADMIN, parent, {
        audience,
        dimensions: dims.map((dimensionName) => ({ dimensionName })),
      });
      const name = (op.response as { name: string }).name;
      for (let i = 0; i < 200; i++) {
        const e = await service.get(ADMIN, name);
        if (e.state !== 'CREATING') return e;
        await sleep(10);
      }
      throw new Error('stuck');
    }

    test('records the snapshot point and the frozen evaluation config', async () => {
      snapshots.rows = 3;
      const e = await createAndWait();
      assert.equal(e.state, 'ACTIVE');
      const req = snapshots.calls.at(-1)!;
      assert.equal(req.maxIngestSeq, 42n);
      assert.equal(req.propertyId, 1n);
      assert.equal(req.config.timeZone, 'Europe/Berlin');
      assert.equal(req.config.backfillDays, 30);
      assert.equal(e.rowCount, 3);
      assert.equal(e.creationQuotaTokensCharged, 1);
    });

    test('query pages: clamp to 250,000, stable order, no overlap or gap, offset past the end is empty', async () => {
      snapshots.rows = 300_000;
      const e = await createAndWait();
      assert.equal(e.rowCount, 300_000);
      assert.equal(e.creationQuotaTokensCharged, tokensFor(300_000));
      const name = e.name as string;
      const first = await service.query(ADMIN, name, { limit: '1000000' });
      assert.equal(rowsOf(first).length, 250_000);
      assert.equal(first.rowCount, 300_000);
      const second = await service.query(ADMIN, name, { offset: '250000', limit: '250000' });
      assert.equal(rowsOf(second).length, 50_000);
      const ids = [...rowsOf(first), ...rowsOf(second)].map((r) => r.dimensionValues[0]!.value);
      assert.equal(new Set(ids).size, 300_000);
      assert.deepEqual(ids, [...ids].sort());
      const def = await service.query(ADMIN, name, {});
      assert.equal(rowsOf(def).length, 10_000);
      const mid = await service.query(ADMIN, name, { offset: 12_345, limit: 2 });
      assert.deepEqual(rowsOf(mid), [
        { dimensionValues: [{ value: 'd0012345' }, { value: 'u12345' }] },
        { dimensionValues: [{ value: 'd0012346' }, { value: '' }] },
      ]);
      for (const offset of ['300000', '300001', '9000000000000000000']) {
        const r = await service.query(ADMIN, name, { offset });
        assert.deepEqual(rowsOf(r), []);
        assert.equal(r.rowCount, 300_000);
      }
    });

    test("a page waits for the engine's rows file only when it is a third or more of the snapshot, or over 50,000 rows", async () => {
      snapshots.rows = 300;
      const e = await createAndWait();
      snapshots.rows = 160_000; // a third is 53,334 rows
      const saved = clock;
      clock += 25 * 3_600_000_000; // the next day: this property's tokens of today are spent
      const big = await createAndWait().finally(() => (clock = saved));
      const seen: (boolean | undefined)[] = [];
      const fast = snapshots as FakeSnapshots & { readRowsJson?: SnapshotStore['readRowsJson'] };
      fast.readRowsJson = async (_id, _offset, _limit, _dims, opts) => {
        seen.push(opts?.waitForRender);
        return new RawJson('[]');
      };
      try {
        for (const limit of [1, 99, 100, 250_000]) await service.query(ADMIN, e.name as string, { limit });
        await service.query(ADMIN, e.name as string, { offset: 300, limit: 1 }); // past the end: no read
        // A large page rendered by SQL is a big string beside the render's own memory.
        for (const limit of [10_000, 50_000, 50_001, 250_000])
          await service.query(ADMIN, big.name as string, { limit });
      } finally {
        delete fast.readRowsJson;
      }
      assert.deepEqual(seen, [false, false, true, true, false, false, true, true]);
    });

    test('dimension order is the requested order', async () => {
      snapshots.rows = 2;
      const e = await createAndWait([
        'userId',
        'isLimitedAdTracking',
        'deviceId',
        'isAdsPersonalizationAllowed',
      ]);
      const r = await service.query(ADMIN, e.name as string, {});
      assert.deepEqual(rowsOf(r)[1], {
        dimensionValues: [{ value: 'u1' }, { value: '(not set)' }, { value: 'd0000001' }, { value: 'true' }],
      });
    });

    test('a failed creation is FAILED with an errorMessage; query is FAILED_PRECONDITION; the operation has an error', async () => {
      snapshots.fail = 'disk on fire';
      snapshots.rows = 1;
      const e = await createAndWait();
      snapshots.fail = null;
      assert.equal(e.state, 'FAILED');
      assert.match(e.errorMessage as string, /disk on fire/);
      assert.equal(e.rowCount, undefined);
      await assert.rejects(service.query(ADMIN, e.name as string, {}), code('FAILED_PRECONDITION'));
      const list = await service.list(ADMIN, parent, {});
      assert.ok(list.audienceExports.some((x) => x.name === e.name && x.state === 'FAILED'));
    });

    test('an export whose rows cost more tokens than remain today goes FAILED (quota during creation)', async () => {
      snapshots.rows = 900_000; // 91 tokens > 40 a day
      const e = await createAndWait();
      assert.equal(e.state, 'FAILED');
      assert.match(e.errorMessage as string, /tokens per day/);
      assert.equal(e.creationQuotaTokensCharged, 1);
    });

    test('exports expire: NOT_FOUND afterwards, and the sweep drops their snapshots', async () => {
      snapshots.rows = 1;
      const e = await createAndWait();
      const id = `ae_${(e.name as string).split('/').pop()}`;
      assert.ok(snapshots.tables.has(id));
      const saved = clock;
      clock += 73 * 3_600_000_000;
      try {
        await assert.rejects(service.get(ADMIN, e.name as string), code('NOT_FOUND'));
        await assert.rejects(service.query(ADMIN, e.name as string, {}), code('NOT_FOUND'));
        assert.ok(!(await service.list(ADMIN, parent, {})).audienceExports.some((x) => x.name === e.name));
        await runner.sweep(false);
        assert.ok(!snapshots.tables.has(id));
      } finally {
        clock = saved;
      }
    });

    test('a job whose lease lapsed is taken over by another runner', async () => {
      await runner.stop();
      snapshots.rows = 4;
      const op = await service.create(ADMIN, parent, {
        audience,
        dimensions: [{ dimensionName: 'deviceId' }],
      });
      const name = (op.response as { name: string }).name;
      const id = Number(name.split('/').pop());
      // Another worker leased it and vanished (on another host, so only the expiry frees it).
      await db
        .updateTable('audience_exports')
        .set({ lease_owner: 'elsewhere:1:x', lease_expires: clock + 10_000_000 })
        .where('id', '=', id)
        .execute();
      runner = new ExportRunner(service.repo, snapshots, {
        leaseSeconds: 30,
        log: quiet,
        now: () => clock,
        pollMs: 20,
        retry: { attempts: 2, baseDelayMs: 10 },
      });
      runner.start();
      await sleep(200);
      assert.equal((await service.get(ADMIN, name)).state, 'CREATING');
      clock += 11_000_000;
      for (let i = 0; i < 100 && (await service.get(ADMIN, name)).state === 'CREATING'; i++) await sleep(20);
      assert.equal((await service.get(ADMIN, name)).state, 'ACTIVE');
      const op2 = await service.getOperation(ADMIN, op.name as string);
      assert.equal(op2.done, true);
    });

    test('a storage call that fails once with a retriable error is retried: the export still becomes ACTIVE', async () => {
      clock += 86_400_000_000; // a fresh day of creation tokens
      snapshots.rows = 2;
      const before = snapshots.calls.length;
      snapshots.storageFailures = [new StorageError('unavailable', 'duckdb: connection is closed')];
      const e = await createAndWait();
      assert.equal(e.state, 'ACTIVE', String(e.errorMessage));
      assert.equal(e.rowCount, 2);
      assert.equal(snapshots.calls.length - before, 2, 'materialized twice: the failure, then the retry');
    });

    test('retriable failures beyond the retries fail the job with words, not the engine text', async () => {
      clock += 86_400_000_000; // a fresh day of creation tokens
      snapshots.rows = 1;
      snapshots.storageFailures = [0, 1, 2].map(
        () =>
          new StorageError(
            'disk_full',
            "duckdb: IO Error: could not write file '/srv/audex/x': No space left",
          ),
      );
      const e = await createAndWait();
      snapshots.storageFailures = [];
      assert.equal(e.state, 'FAILED');
      assert.match(e.errorMessage as string, /out of disk space/);
      assert.doesNotMatch(e.errorMessage as string, /\/srv/);
    });

    test('a non-retriable storage failure fails the job at once', async () => {
      clock += 86_400_000_000; // a fresh day of creation tokens
      snapshots.rows = 1;
      const before = snapshots.calls.length;
      snapshots.storageFailures = [new StorageError('syntax', 'duckdb: Parser Error: x')];
      const e = await createAndWait();
      assert.equal(e.state, 'FAILED');
      assert.equal(snapshots.calls.length - before, 1);
    });
  });
});

describe('registerExportRpcs', () => {
  test('names methods of the shipped protos whose http rules are the routes audex serves', async () => {
    const { RpcRegistry } = await import('../src/api/rpc/registry.ts');
    const { registerExportRpcs } = await import('../src/api/rpc/export-rpcs.ts');
    const reg = new RpcRegistry();
    registerExportRpcs(reg, {} as ExportService);
    const rules = reg
      .implemented()
      .flatMap((n) => reg.methods.get(n)!.http.map((h) => `${h.method} ${h.path}`));
    assert.deepEqual(rules.sort(), [
      'GET /v1/{name=operations/**}',
      'GET /v1beta/{name=properties/*/audienceExports/*}',
      'GET /v1beta/{parent=properties/*}/audienceExports',
      'POST /v1beta/{name=properties/*/audienceExports/*}:query',
      'POST /v1beta/{parent=properties/*}/audienceExports',
    ]);
  });
});
