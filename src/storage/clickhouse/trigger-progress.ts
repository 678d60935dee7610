// TriggerProgressStore on ClickHouse: the trigger logger's watermark and per-audience state as
// append-only versions in one small table on the query node (ClickHouse has no cheap UPDATE);
// the row with the highest version is the state. Old versions are removed now and then.

import type { TriggerAudienceState, TriggerProgressStore } from '../contract.ts';
import { param, sql } from '../../audience/compile/sql.ts';
import type { ClickHouseNodes } from './connection.ts';
import { TRIGGER_PROGRESS, table } from './schema.ts';
import { settledMark } from './event-store.ts';

interface State {
  version: bigint;
  watermark: bigint;
  lastPass: bigint | null;
  audiences: Map<number, TriggerAudienceState>;
}

function encodeAudiences(m: ReadonlyMap<number, TriggerAudienceState>): string {
  return JSON.stringify(
    [...m].map(([id, s]) => [id, s.key, s.fromSeq === null ? null : s.fromSeq.toString()]),
  );
}

function decodeAudiences(text: string): Map<number, TriggerAudienceState> {
  const rows = JSON.parse(text) as [number, string, string | null][];
  return new Map(rows.map(([id, key, from]) => [id, { key, fromSeq: from === null ? null : BigInt(from) }]));
}

export class ClickHouseTriggerProgress implements TriggerProgressStore {
  constructor(
    private readonly nodes: ClickHouseNodes,
    private readonly nowMicros: () => bigint = () => BigInt(Date.now()) * 1000n,
    /** How old a seq must be before a pass reads up to it (ingest-seq.ts); AUDEX_TRIGGER_SETTLE_MS. */
    private readonly settleMs = 5_000,
  ) {}

  private get t() {
    return table(this.nodes.target.database, TRIGGER_PROGRESS);
  }

  private async latest(): Promise<State | null> {
    const rows = await this.nodes.rows(
      sql`SELECT version, watermark, last_pass, audiences FROM ${this.t} ORDER BY version DESC LIMIT 1`,
    );
    const r = rows[0];
    if (!r) return null;
    return {
      version: BigInt(r.version as string),
      watermark: BigInt(r.watermark as string),
      lastPass: r.last_pass === null ? null : BigInt(r.last_pass as string),
      audiences: decodeAudiences(String(r.audiences)),
    };
  }

  private async write(s: State): Promise<void> {
    const line = `${JSON.stringify({
      version: s.version.toString(),
      watermark: s.watermark.toString(),
      last_pass: s.lastPass === null ? null : s.lastPass.toString(),
      audiences: encodeAudiences(s.audiences),
    })}\n`;
    await this.nodes.insertJsonLines(this.t, line);
    if (s.version % 1000n === 0n)
      await this.nodes.command(sql`ALTER TABLE ${this.t} DELETE WHERE version < ${param(s.version)}`);
  }

  async init(nowMicros: bigint): Promise<void> {
    if ((await this.latest()) !== null) return;
    await this.write({
      version: 1n,
      watermark: await this.highWaterMark(),
      lastPass: nowMicros,
      audiences: new Map(),
    });
  }

  async load(): Promise<{
    watermark: bigint;
    lastPass: bigint | null;
    audiences: Map<number, TriggerAudienceState>;
  }> {
    const s = await this.latest();
    if (!s) throw new Error('audience trigger progress is missing (init() not run)');
    return { watermark: s.watermark, lastPass: s.lastPass, audiences: s.audiences };
  }

  async saveAudiences(next: ReadonlyMap<number, TriggerAudienceState>): Promise<void> {
    const s = await this.latest();
    if (!s) throw new Error('audience trigger progress is missing (init() not run)');
    await this.write({ ...s, version: s.version + 1n, audiences: new Map(next) });
  }

  async saveWatermark(watermark: bigint, lastPass: bigint): Promise<void> {
    const s = await this.latest();
    if (!s) throw new Error('audience trigger progress is missing (init() not run)');
    await this.write({ ...s, version: s.version + 1n, watermark, lastPass });
  }

  /** The settled mark: several processes write, so rows land out of seq order for a moment. */
  highWaterMark(): Promise<bigint> {
    return settledMark(this.nodes, this.nowMicros, this.settleMs);
  }
}
