// The audience trigger logger (spec §3.8, docs/audiences.md §2.7): stores the events that an
// audience's `eventTrigger` logs when a user joins (AUDIENCE_JOINED) or joins or renews
// (AUDIENCE_MEMBERSHIP_RENEWED).
//
// Passes. Every `intervalMs` one pass runs (never two at once; after a long pass the pause grows so
// that passes take at most `maxShare` of the time):
//  1. read the non-archived audiences with an eventTrigger from the catalog; none → done (no
//     DuckDB work at all);
//  2. H = the latest committed ingest_seq; W = the persisted watermark. ingest_seq is handed out
//     inside the writer queue, so every event with ingest_seq <= H is committed once H is visible;
//  3. per property with trigger audiences, the users with a non-trigger event in (W, H] (inside the
//     widest evaluation window) are evaluated over their whole history up to H with the reference
//     evaluator, the same fold the hybrid path of src/storage/duckdb/members.ts runs, with the
//     evaluation config an export would use (createTime, backfill days, property time zone);
//  4. the evaluator's triggers that are not stored yet are appended through the ingest buffer
//     (durable when it resolves), with source 'audience_trigger';
//  5. only then the watermark moves to H.
//
// Idempotency, and why a crash is harmless. Whether a trigger is "stored yet" is decided from the
// events table itself: the user's stored audience_trigger events (same audience_id param, same
// event_timestamp) are read by the same query that reads the user's history, and each one cancels
// one planned trigger with that (audience, user, timestamp). The check and the data it guards are
// the same rows, so there is no second record to get out of step with. A crash before step 4
// commits leaves W unchanged and the pass is redone; a crash between 4 and 5 redoes the pass too,
// and the stored triggers cancel the replanned ones. Only one pass runs at a time and nothing else
// writes audience_trigger events.
//
// Changed triggers. Per audience the logger remembers (in DuckDB, next to the watermark) the
// trigger it last saw and `fromSeq`: triggers are stored only for qualifying events with
// ingest_seq > fromSeq. An audience created with its trigger since the previous pass gets no
// bound (every qualification at or after createTime counts); a trigger added or changed later by
// updateAudience (or present when this logger first ran on a data folder) gets fromSeq = the
// high-water mark read before the change (W when the previous pass was active, else this pass's H),
// so qualifications whose events arrived before the change do not emit. A cleared trigger forgets
// the audience.

import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { CatalogDb } from '../../catalog/db.ts';
import type { AudienceDefinition, EvaluationConfig } from '../../domain/audience.ts';
import { EVENT_COLUMNS, emptyEventContext, type NewEvent, type StoredEvent } from '../../domain/event.ts';
import type { DuckDbDatabase } from '../../storage/duckdb/connection.ts';
import { forEachUserHistory } from '../../storage/duckdb/members.ts';
import { RepeatingTask } from '../../domain/repeating-task.ts';
import { EVENTS_TABLE } from '../../storage/duckdb/schema.ts';
import {
  compileAudience,
  evaluateUser,
  windowStartMicros,
  type CompiledAudience,
  type TriggerEvent,
} from '../reference/evaluate.ts';
import { parseAudience } from '../validate.ts';

export const TRIGGER_SOURCE = 'audience_trigger';
const PROGRESS_TABLE = 'audience_trigger_progress';
const AUDIENCES_TABLE = 'audience_trigger_audiences';
/** Clock and commit slack when deciding whether an audience was created since the previous pass. */
const NEW_AUDIENCE_SLACK_MICROS = 60_000_000n;
/** Trigger events per ingest-buffer submission. */
const SUBMIT_BATCH = 10_000;

export interface TriggerLoggerLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface TriggerLoggerOptions {
  catalog: CatalogDb;
  db: DuckDbDatabase;
  /** The durable append path (IngestBuffer.submit): resolves once the events are committed. */
  submit: (events: NewEvent[]) => Promise<bigint[]>;
  /** As for exports: days of history before createTime that count; null = all. */
  backfillDays: number | null;
  intervalMs: number;
  /** The most of the wall time passes may take (RepeatingTask's maxShare). Default 1. */
  maxShare?: number;
  log: TriggerLoggerLog;
  now?: () => bigint;
}

export interface TriggerAudience {
  propertyId: number;
  audienceId: number;
  definition: AudienceDefinition;
  createTimeMicros: bigint;
}

interface AudienceState {
  key: string;
  /** null: every qualification at or after createTime; else only qualifying events with ingest_seq > fromSeq. */
  fromSeq: bigint | null;
}

export interface PassStats {
  audiences: number;
  users: number;
  stored: number;
  watermark: bigint;
}

function triggerKey(def: AudienceDefinition): string {
  return `${def.eventTrigger!.eventName}\u0000${def.eventTrigger!.logCondition}`;
}

function audienceIdParam(e: StoredEvent): bigint | null {
  const v = e.event_params.audience_id;
  if (!v) return null;
  if ('int_value' in v) return v.int_value;
  if ('string_value' in v && /^\d+$/.test(v.string_value)) return BigInt(v.string_value);
  return null;
}

/**
 * The trigger events to store for one (audience, user): the evaluator's `triggers` whose
 * qualifying event is past `fromSeq`, minus the ones already stored. Stored trigger events are
 * matched by (audience_id param, event_timestamp) and each cancels one planned trigger, so two
 * qualifications at the same microsecond are two events and a replay adds nothing.
 * `userEvents` is the user's history, stored trigger events included.
 */
export function triggerEventsToStore(input: {
  propertyId: bigint;
  audienceId: number;
  audienceName: string;
  userEvents: readonly StoredEvent[];
  triggers: readonly TriggerEvent[];
  fromSeq: bigint | null;
  receivedAt: bigint;
}): NewEvent[] {
  const id = BigInt(input.audienceId);
  const stored = new Map<bigint, number>();
  const bySeq = new Map<bigint, StoredEvent>();
  for (const e of input.userEvents) {
    if (e.source === TRIGGER_SOURCE) {
      if (audienceIdParam(e) === id) stored.set(e.event_timestamp, (stored.get(e.event_timestamp) ?? 0) + 1);
    } else bySeq.set(e.ingest_seq, e);
  }
  const out: NewEvent[] = [];
  for (const t of input.triggers) {
    if (input.fromSeq !== null && t.qualifyingIngestSeq <= input.fromSeq) continue;
    const left = stored.get(t.timestamp) ?? 0;
    if (left > 0) {
      stored.set(t.timestamp, left - 1);
      continue;
    }
    const q = bySeq.get(t.qualifyingIngestSeq);
    if (!q) continue; // cannot happen: the evaluator only reports events it was given
    out.push({
      property_id: input.propertyId,
      stream_id: q.stream_id,
      platform: q.platform,
      event_name: t.eventName,
      event_timestamp: t.timestamp,
      event_date: q.event_date,
      received_at: input.receivedAt,
      source: TRIGGER_SOURCE,
      user_pseudo_id: t.userPseudoId,
      user_id: t.userId,
      ga_session_id: t.gaSessionId,
      ga_session_number: t.gaSessionNumber,
      event_params: {
        audience_id: { int_value: id },
        audience_name: { string_value: input.audienceName },
      },
      user_properties: {},
      ...emptyEventContext(),
    });
  }
  return out;
}

const SELECT_COLUMNS = EVENT_COLUMNS.map(([n]) => n).join(', ');

export class AudienceTriggerLogger {
  private readonly now: () => bigint;
  private readonly loop: RepeatingTask;
  private passing: Promise<PassStats | null> | null = null;
  /** Persisted progress, loaded once. */
  private loaded = false;
  private watermark = 0n;
  private lastPass: bigint | null = null;
  private state = new Map<number, AudienceState>();
  /** Whether the previous pass of this process had trigger audiences (and so read up to W). */
  private previousActive = false;
  /** For /audex/v1/metrics: passes completed (idle ones too), trigger events stored, failed passes. */
  readonly stats = { passes: 0, stored: 0, failedPasses: 0 };

  constructor(private readonly opts: TriggerLoggerOptions) {
    this.now = opts.now ?? (() => BigInt(Date.now()) * 1000n);
    this.loop = new RepeatingTask(
      () => this.runPass(),
      opts.intervalMs,
      (err) => {
        this.stats.failedPasses++;
        opts.log.error('audience trigger pass failed', { error: String(err) });
      },
      // A pass re-reads the whole history of every user with new events, on the main thread
      // beside collection: a long pass is followed by a proportionally longer pause.
      { maxShare: opts.maxShare ?? 1 },
    );
  }

  /**
   * Creates the progress tables. On a data folder that never ran the logger the watermark starts
   * at the current high-water mark: history is not replayed.
   */
  async init(): Promise<void> {
    const w = this.opts.db.writer;
    await w.run(`CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (watermark BIGINT NOT NULL, last_pass BIGINT)`);
    await w.run(
      `CREATE TABLE IF NOT EXISTS ${AUDIENCES_TABLE} (audience_id BIGINT NOT NULL, trigger_key VARCHAR NOT NULL, from_seq BIGINT)`,
    );
    await w.run(
      `INSERT INTO ${PROGRESS_TABLE} SELECT (SELECT coalesce(max(ingest_seq), 0) FROM ${EVENTS_TABLE}), $1
       WHERE NOT EXISTS (SELECT 1 FROM ${PROGRESS_TABLE})`,
      [this.now()],
    );
  }

  /** Runs a pass now and then every intervalMs until stop(). */
  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /**
   * Resolves once the pass in flight (if any) has ended, without running one. For user deletion
   * (src/privacy/user-deletion.ts): a pass that read a user's history before the user's events
   * were deleted may store trigger events for them afterwards; the deletion waits for it, then
   * deletes again. Later passes cannot see the deleted events.
   */
  async settled(): Promise<void> {
    await this.passing?.catch(() => undefined);
  }

  /** One pass (serialized with any other caller's). Resolves to null when no audience has a trigger. */
  runPass(): Promise<PassStats | null> {
    const run = async (): Promise<PassStats | null> => {
      const previous = this.passing;
      if (previous) await previous.catch(() => undefined);
      const stats = await this.pass();
      this.stats.passes++;
      if (stats) this.stats.stored += stats.stored;
      return stats;
    };
    const p = run();
    this.passing = p;
    return p;
  }

  private async pass(): Promise<PassStats | null> {
    const passStart = this.now();
    const audiences = await this.triggerAudiences();
    if (audiences.length === 0) {
      // Nothing to do. The persisted state is read once per process, and forgotten when the
      // last trigger is cleared, so that a trigger added again later starts afresh.
      await this.load();
      this.lastPass = passStart;
      this.previousActive = false;
      if (this.state.size > 0) await this.saveState(new Map());
      return null;
    }
    await this.load();
    const W = this.watermark;
    const H = await this.highWaterMark();
    const last = this.lastPass;
    this.lastPass = passStart;
    // The newest ingest_seq known to predate a change of trigger: W if the previous pass of this
    // process was an active one (it read up to W); otherwise W may be stale (idle passes read
    // nothing, and a restart forgets), so H, which may miss qualifications of the last interval.
    const changeSeq = this.previousActive ? W : H;
    this.previousActive = true;

    // Which qualifications count for each audience (see the header).
    const next = new Map<number, AudienceState>();
    for (const a of audiences) {
      const key = triggerKey(a.definition);
      const prev = this.state.get(a.audienceId);
      if (prev && prev.key === key) next.set(a.audienceId, prev);
      else if (!prev && last !== null && a.createTimeMicros >= last - NEW_AUDIENCE_SLACK_MICROS)
        next.set(a.audienceId, { key, fromSeq: null });
      else next.set(a.audienceId, { key, fromSeq: changeSeq });
    }
    if (!sameState(this.state, next)) await this.saveState(next);

    const stats: PassStats = { audiences: audiences.length, users: 0, stored: 0, watermark: W };
    if (H <= W) return stats;
    const byProperty = new Map<number, TriggerAudience[]>();
    for (const a of audiences) {
      const list = byProperty.get(a.propertyId);
      if (list) list.push(a);
      else byProperty.set(a.propertyId, [a]);
    }
    for (const [propertyId, list] of byProperty) {
      const r = await this.processProperty(propertyId, list, next, W, H);
      stats.users += r.users;
      stats.stored += r.stored;
    }
    // Only after every trigger of (W, H] is durable (see the header).
    await this.opts.db.writer.run(`UPDATE ${PROGRESS_TABLE} SET watermark = $1, last_pass = $2`, [
      H,
      passStart,
    ]);
    this.watermark = H;
    stats.watermark = H;
    if (stats.stored > 0)
      this.opts.log.info('audience trigger events stored', { events: stats.stored, users: stats.users });
    return stats;
  }

  private async processProperty(
    propertyId: number,
    audiences: TriggerAudience[],
    state: Map<number, AudienceState>,
    W: bigint,
    H: bigint,
  ): Promise<{ users: number; stored: number }> {
    const property = await this.opts.catalog
      .selectFrom('properties')
      .select('time_zone')
      .where('id', '=', propertyId)
      .executeTakeFirst();
    const timeZone = property?.time_zone ?? 'UTC';
    const plans: {
      a: TriggerAudience;
      compiled: CompiledAudience;
      config: EvaluationConfig;
      fromSeq: bigint | null;
    }[] = [];
    for (const a of audiences) {
      try {
        plans.push({
          a,
          compiled: compileAudience(a.definition),
          config: {
            createTimeMicros: a.createTimeMicros,
            backfillDays: this.opts.backfillDays,
            timeZone,
            ignoreEventNamesForAdjacency: [],
          },
          fromSeq: state.get(a.audienceId)?.fromSeq ?? null,
        });
      } catch (err) {
        this.opts.log.error('audience trigger: cannot compile audience', {
          audience: `properties/${propertyId}/audiences/${a.audienceId}`,
          error: String(err),
        });
      }
    }
    if (plans.length === 0) return { users: 0, stored: 0 };
    // Events before every audience's window cannot change a trigger.
    const starts = plans.map((p) => windowStartMicros(p.config));
    const lower = starts.some((s) => s === null)
      ? null
      : starts.reduce((m, s) => (s! < m! ? s : m), starts[0]!);
    const params: DuckDBValue[] = [BigInt(propertyId), W, H];
    let windowSql = '';
    if (lower !== null) {
      params.push(lower);
      windowSql = ' AND event_timestamp >= $4';
    }
    // The affected users' histories up to H, plus every trigger event already stored for them.
    const sql = `SELECT ${SELECT_COLUMNS} FROM ${EVENTS_TABLE}
      WHERE property_id = $1 AND (ingest_seq <= $3 OR source = '${TRIGGER_SOURCE}')${windowSql}
        AND user_pseudo_id IN (SELECT DISTINCT user_pseudo_id FROM ${EVENTS_TABLE}
          WHERE property_id = $1 AND ingest_seq > $2 AND ingest_seq <= $3
            AND source <> '${TRIGGER_SOURCE}'${windowSql})
      ORDER BY user_pseudo_id, event_timestamp, ingest_seq`;

    const receivedAt = this.now();
    const toStore: NewEvent[] = [];
    let users = 0;
    const evaluate = (events: StoredEvent[]): void => {
      users++;
      const last = events[events.length - 1]!.event_timestamp;
      // Triggers depend only on the events, not on `now`; a `now` past every event keeps
      // slightly-future events (MP allows a minute of clock skew) from being skipped for good.
      const evalNow = last > receivedAt ? last : receivedAt;
      for (const p of plans) {
        try {
          const r = evaluateUser(p.a.definition, events, evalNow, p.config, p.compiled);
          if (r.triggers.length === 0) continue;
          toStore.push(
            ...triggerEventsToStore({
              propertyId: BigInt(propertyId),
              audienceId: p.a.audienceId,
              audienceName: p.a.definition.displayName,
              userEvents: events,
              triggers: r.triggers,
              fromSeq: p.fromSeq,
              receivedAt,
            }),
          );
        } catch (err) {
          // One bad (audience, user) must not hold back every later pass.
          this.opts.log.error('audience trigger: evaluation failed', {
            audience: `properties/${propertyId}/audiences/${p.a.audienceId}`,
            user: events[0]!.user_pseudo_id,
            error: String(err),
          });
        }
      }
    };
    await this.opts.db.reader().exclusive(async (con: DuckDBConnection) => {
      // Users whose rows are only trigger events have nothing new to evaluate.
      await forEachUserHistory(con, sql, params, (events) => {
        if (events.some((x) => x.source !== TRIGGER_SOURCE)) evaluate(events);
      });
    }, sql);

    for (let i = 0; i < toStore.length; i += SUBMIT_BATCH) {
      await this.opts.submit(toStore.slice(i, i + SUBMIT_BATCH));
    }
    return { users, stored: toStore.length };
  }

  /** Non-archived audiences with an eventTrigger (one catalog query; definitions parsed only for those). */
  private async triggerAudiences(): Promise<TriggerAudience[]> {
    const rows = await this.opts.catalog
      .selectFrom('audiences')
      .select(['id', 'property_id', 'definition', 'create_time'])
      .where('archived', '=', 0)
      .where('definition', 'like', '%"eventTrigger"%')
      .orderBy('id')
      .execute();
    const out: TriggerAudience[] = [];
    for (const row of rows) {
      try {
        const definition = parseAudience(JSON.parse(row.definition));
        if (!definition.eventTrigger) continue;
        out.push({
          propertyId: row.property_id,
          audienceId: row.id,
          definition,
          createTimeMicros: BigInt(row.create_time),
        });
      } catch (err) {
        this.opts.log.error('audience trigger: cannot read audience', { id: row.id, error: String(err) });
      }
    }
    return out;
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    const reader = this.opts.db.reader();
    const progress = await reader.all(`SELECT watermark, last_pass FROM ${PROGRESS_TABLE}`);
    const row = progress[0];
    if (!row) throw new Error('audience trigger progress is missing (init() not run)');
    this.watermark = BigInt(row.watermark as bigint);
    const persisted = row.last_pass === null ? null : BigInt(row.last_pass as bigint);
    // An idle pass of this process (no trigger audiences) may be more recent.
    if (this.lastPass === null || (persisted !== null && persisted > this.lastPass))
      this.lastPass = persisted;
    const rows = await reader.all(`SELECT audience_id, trigger_key, from_seq FROM ${AUDIENCES_TABLE}`);
    this.state = new Map(
      rows.map((r) => [
        Number(r.audience_id),
        {
          key: r.trigger_key as string,
          fromSeq: r.from_seq === null ? null : BigInt(r.from_seq as bigint),
        },
      ]),
    );
    this.loaded = true;
  }

  private async saveState(next: Map<number, AudienceState>): Promise<void> {
    await this.opts.db.writer.exclusive(async (con) => {
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
    this.state = next;
  }

  private async highWaterMark(): Promise<bigint> {
    const rows = await this.opts.db
      .reader()
      .all(`SELECT coalesce(max(ingest_seq), 0) AS m FROM ${EVENTS_TABLE}`);
    return BigInt(rows[0]?.m as bigint | number);
  }
}

function sameState(a: Map<number, AudienceState>, b: Map<number, AudienceState>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, s] of b) {
    const o = a.get(id);
    if (!o || o.key !== s.key || o.fromSeq !== s.fromSeq) return false;
  }
  return true;
}
