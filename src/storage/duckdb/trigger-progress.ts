// TriggerProgressStore on DuckDB: the audience trigger logger's watermark and per-audience trigger
// state, in two small tables of events.duckdb, next to the events they guard
// (docs/audiences.md §2.7).

import type { TriggerAudienceState, TriggerProgressStore } from '../contract.ts';
import type { DuckDbDatabase } from './connection.ts';
import { EVENTS_TABLE } from './schema.ts';

const PROGRESS_TABLE = 'audience_trigger_progress';
const AUDIENCES_TABLE = 'audience_trigger_audiences';

export class DuckDbTriggerProgress implements TriggerProgressStore {
  constructor(private readonly db: DuckDbDatabase) {}

  async init(nowMicros: bigint): Promise<void> {
    const w = this.db.writer;
    await w.run(`CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (watermark BIGINT NOT NULL, last_pass BIGINT)`);
    await w.run(
      `CREATE TABLE IF NOT EXISTS ${AUDIENCES_TABLE} (audience_id BIGINT NOT NULL, trigger_key VARCHAR NOT NULL, from_seq BIGINT)`,
    );
    await w.run(
      `INSERT INTO ${PROGRESS_TABLE} SELECT (SELECT coalesce(max(ingest_seq), 0) FROM ${EVENTS_TABLE}), $1
       WHERE NOT EXISTS (SELECT 1 FROM ${PROGRESS_TABLE})`,
      [nowMicros],
    );
  }

  async load(): Promise<{
    watermark: bigint;
    lastPass: bigint | null;
    audiences: Map<number, TriggerAudienceState>;
  }> {
    const reader = this.db.reader();
    const progress = await reader.all(`SELECT watermark, last_pass FROM ${PROGRESS_TABLE}`);
    const row = progress[0];
    if (!row) throw new Error('audience trigger progress is missing (init() not run)');
    const rows = await reader.all(`SELECT audience_id, trigger_key, from_seq FROM ${AUDIENCES_TABLE}`);
    return {
      watermark: BigInt(row.watermark as bigint),
      lastPass: row.last_pass === null ? null : BigInt(row.last_pass as bigint),
      audiences: new Map(
        rows.map((r) => [
          Number(r.audience_id),
          {
            key: r.trigger_key as string,
            fromSeq: r.from_seq === null ? null : BigInt(r.from_seq as bigint),
          },
        ]),
      ),
    };
  }

  async saveAudiences(next: ReadonlyMap<number, TriggerAudienceState>): Promise<void> {
    await this.db.writer.exclusive(async (con) => {
      await con.run('BEGIN TRANSACTION');
      try {
        await con.run(`DELETE FROM ${AUDIENCES_TABLE}`);
        for (const [id, s] of next) {
          await con.run(`INSERT INTO ${AUDIENCES_TABLE} VALUES ($1, $2, $3)`, [BigInt(id), s.key, s.fromSeq]);
        }
        await con.run('COMMIT');
      } catch (err) {
        await con.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }, `UPDATE ${AUDIENCES_TABLE}`);
  }

  async saveWatermark(watermark: bigint, lastPass: bigint): Promise<void> {
    await this.db.writer.run(`UPDATE ${PROGRESS_TABLE} SET watermark = $1, last_pass = $2`, [
      watermark,
      lastPass,
    ]);
  }

  async highWaterMark(): Promise<bigint> {
    const rows = await this.db.reader().all(`SELECT coalesce(max(ingest_seq), 0) AS m FROM ${EVENTS_TABLE}`);
    return BigInt(rows[0]?.m as bigint | number);
  }
}
