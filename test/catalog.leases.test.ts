// The job queue on a PostgreSQL catalog shared by several workers: export jobs are taken with row
// leases (SELECT … FOR UPDATE SKIP LOCKED), so claimers in separate pools and separate processes
// never take one job twice, and a job whose claimer was killed is taken over once its lease lapses
// and finishes exactly once. (Recurring-list days and webhook deliveries across separate pools are
// in src/exports/recurring.test.ts and src/exports/webhooks.test.ts, which run on PostgreSQL too.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { openCatalog, type CatalogDb } from '../src/catalog/db.ts';
import { ExportRepo } from '../src/catalog/repos/exports.ts';
import { usePostgres } from './helpers/postgres-server.ts';

const pg = usePostgres();
const CLAIMER = join(import.meta.dirname, 'fixtures', 'export-claimer.ts');
const LIMITS = { maxConcurrentPerProperty: 1_000_000, dailyTokensPerProperty: 1_000_000 };
const now = () => Date.now() * 1000;

async function enqueue(db: CatalogDb, n: number): Promise<number[]> {
  const repo = new ExportRepo(db, LIMITS);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    const row = await repo.insert({
      property_id: 1,
      audience: 'properties/1/audiences/1',
      audience_display_name: 'All Users',
      definition: '{}',
      eval_config: '{}',
      dimensions: '["deviceId"]',
      begin_creating_time: t,
      as_of: t,
      max_ingest_seq: 0,
      expire_time: t + 3_600_000_000,
    });
    ids.push(row.id);
  }
  return ids;
}

/** Starts the claimer fixture in its own process; resolves its output lines when it exits. */
function claimer(url: string, mode: 'drain' | 'hold', leaseMs = 30_000) {
  const proc = spawn(process.execPath, ['--import', 'tsx', CLAIMER, url, mode, String(leaseMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', r));
  return {
    proc,
    output: () => out,
    done: async () => {
      const code = await exited;
      assert.equal(code, 0, `claimer failed:\n${err}`);
      return out.trim().split('\n').filter(Boolean);
    },
    exited,
  };
}

describe('export job leases on PostgreSQL', () => {
  test('claimers in separate pools and separate processes never take one job twice', async () => {
    const url = await pg.server.createDatabase('audex_leases');
    const db = await openCatalog({ dataDir: '/nonexistent', url });
    const pools = [
      db,
      await openCatalog({ dataDir: '/nonexistent', url }),
      await openCatalog({ dataDir: '/nonexistent', url }),
    ];
    try {
      const ids = await enqueue(db, 60);
      // Two processes and three pools in this process, all at once.
      const procs = [claimer(url, 'drain'), claimer(url, 'drain')];
      const local = pools.map(async (pool, i) => {
        const repo = new ExportRepo(pool, LIMITS);
        const owner = `local-${i}`;
        const got: number[] = [];
        for (;;) {
          const job = await repo.claim(owner, now(), 30_000_000);
          if (!job) return got;
          assert.equal(await repo.finish(job.id, owner, 1, now()), 'ACTIVE');
          got.push(job.id);
        }
      });
      const localIds = (await Promise.all(local)).flat();
      const remote = (await Promise.all(procs.map((p) => p.done()))).flat();
      for (const line of remote) assert.match(line, /^claimed \d+ ACTIVE$/);
      const remoteIds = remote.map((l) => Number(l.split(' ')[1]));
      const all = [...localIds, ...remoteIds].sort((a, b) => a - b);
      assert.deepEqual(all, ids, 'every job taken exactly once');
      const rows = await db.selectFrom('audience_exports').select(['state', 'attempts']).execute();
      assert.ok(
        rows.every((r) => r.state === 'ACTIVE' && r.attempts === 1),
        JSON.stringify(rows),
      );
    } finally {
      for (const p of pools) await p.destroy();
    }
  });

  test('a job whose claimer was killed is taken over when its lease lapses and finishes exactly once', async () => {
    const url = await pg.server.createDatabase('audex_lapse');
    const db = await openCatalog({ dataDir: '/nonexistent', url });
    try {
      const [id] = await enqueue(db, 1);
      const dead = claimer(url, 'hold', 1500);
      while (!/claimed/.test(dead.output())) await new Promise((r) => setTimeout(r, 20));
      assert.equal(dead.output().trim(), `claimed ${id}`);
      dead.proc.kill('SIGKILL');
      await dead.exited;
      const repo = new ExportRepo(db, LIMITS);
      // While the lease holds, nobody else takes the job.
      assert.equal(await repo.claim('taker', now(), 30_000_000), undefined);
      await new Promise((r) => setTimeout(r, 1600));
      const job = await repo.claim('taker', now(), 30_000_000);
      assert.equal(job?.id, id);
      assert.equal(job?.attempts, 2);
      assert.equal(await repo.finish(id!, 'taker', 3, now()), 'ACTIVE');
      // The dead claimer's lease is gone: its late finish would change nothing.
      assert.equal(await repo.finish(id!, `claimer:${dead.proc.pid}`, 1, now()), null);
      assert.equal(await repo.claim('other', now() + 60_000_000, 30_000_000), undefined);
      const row = await repo.byId(id!);
      assert.equal(row?.state, 'ACTIVE');
      assert.equal(row?.row_count, 3);
    } finally {
      await db.destroy();
    }
  });
});
