// The audience trigger logger (docs/audiences.md §2.7): stores the events that an
// audience's `eventTrigger` logs when a user joins (AUDIENCE_JOINED) or joins or renews
// (AUDIENCE_MEMBERSHIP_RENEWED).
//
// Passes. Every `intervalMs` one pass runs (never two at once; after a long pass the pause grows so
// that passes take at most `maxShare` of the time):
//  1. read the non-archived audiences with an eventTrigger from the catalog; none → done (no
//     engine work at all);
//  2. H = the latest committed ingest_seq; W = the persisted watermark. ingest_seq is handed out
//     inside the writer queue, so every event with ingest_seq <= H is committed once H is visible;
//  3. per property with trigger audiences, the users with a non-trigger event in (W, H] (inside the
//     widest evaluation window) are the pass's users; every query is restricted to them
//     (pass-queries.ts). An audience on the SQL plan gets its triggers from one SQL statement over
//     those users' events, with nothing folded: from its qualifying events when every match
//     qualifies (Purchasers, All Users; sql-triggers.ts), otherwise from its compiled per-event
//     state (events-sql.ts). On the hybrid plan every pass user is folded over its history up to
//     H with the reference evaluator (src/audience/evaluate/members.ts), with the evaluation
//     config an export would use (createTime, backfill days, property time zone);
//  4. the evaluator's triggers that are not stored yet are appended through the ingest buffer
//     (durable when it resolves), with source 'audience_trigger';
//  5. only then the watermark moves to H.
//
// Idempotency, and why a crash is harmless. Whether a trigger is "stored yet" is decided from the
// events table itself: the pass's users' stored audience_trigger events (same audience_id param,
// same event_timestamp) are read after H is taken, and each one cancels
// one planned trigger with that (audience, user, timestamp). The check and the data it guards are
// the same rows, so there is no second record to get out of step with. A crash before step 4
// commits leaves W unchanged and the pass is redone; a crash between 4 and 5 redoes the pass too,
// and the stored triggers cancel the replanned ones. Only one pass runs at a time and nothing else
// writes audience_trigger events.
//
// Changed triggers. Per audience the logger remembers (TriggerProgressStore, next to the watermark) the
// trigger it last saw and `fromSeq`: triggers are stored only for qualifying events with
// ingest_seq > fromSeq. An audience created with its trigger since the previous pass gets no
// bound (every qualification at or after createTime counts); a trigger added or changed later by
// updateAudience (or present when this logger first ran on a data folder) gets fromSeq = the
// high-water mark read before the change (W when the previous pass was active, else this pass's H),
// so qualifications whose events arrived before the change do not emit. A cleared trigger forgets
// the audience.

import type { CatalogDb } from '../../catalog/db.ts';
import { AudienceRepository } from '../../catalog/repos/audiences.ts';
import { PropertyRepository } from '../../catalog/repos/properties.ts';
import type { AudienceDefinition, EvaluationConfig } from '../../domain/audience.ts';
import { emptyEventContext, type NewEvent, type StoredEvent } from '../../domain/event.ts';
import { RepeatingTask } from '../../domain/repeating-task.ts';
import type { QueryExecutor, TriggerAudienceState, TriggerProgressStore } from '../../storage/contract.ts';
import { triggersOfEvents } from './sql-triggers.ts';
import { forEachUserHistory } from '../evaluate/members.ts';
import {
  compileAudience,
  evaluateUser,
  windowStartMicros,
  type CompiledAudience,
  type TriggerEvent,
} from '../reference/evaluate.ts';
import { parseAudience } from '../validate.ts';
import { PassQueries } from './pass-queries.ts';

export const TRIGGER_SOURCE = 'audience_trigger';
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
  /** Runs the pass's queries on the event engine. */
  executor: QueryExecutor;
  /** The watermark and per-audience trigger state, kept by the event engine. */
  progress: TriggerProgressStore;
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

type AudienceState = TriggerAudienceState;

export interface PassStats {
  audiences: number;
  /** Users with a new (non-trigger) event in the pass. */
  users: number;
  /** (audience, user) histories folded (hybrid-plan audiences only). */
  folded: number;
  /** (audience, user) pairs with triggers taken straight from SQL: nothing folded. */
  direct: number;
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
      // A pass may fold whole histories (hybrid-plan audiences), on the main thread beside
      // collection: a long pass is followed by a proportionally longer pause.
      { maxShare: opts.maxShare ?? 1 },
    );
  }

  /**
   * Creates the progress tables. On a data folder that never ran the logger the watermark starts
   * at the current high-water mark: history is not replayed.
   */
  async init(): Promise<void> {
    await this.opts.progress.init(this.now());
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
    // Audiences whose trigger an earlier pass already judged every older event for (see processProperty).
    const steady = new Set<number>();
    for (const a of audiences) {
      const key = triggerKey(a.definition);
      const prev = this.state.get(a.audienceId);
      if (prev && prev.key === key) {
        next.set(a.audienceId, prev);
        steady.add(a.audienceId);
      } else if (!prev && last !== null && a.createTimeMicros >= last - NEW_AUDIENCE_SLACK_MICROS)
        next.set(a.audienceId, { key, fromSeq: null });
      else next.set(a.audienceId, { key, fromSeq: changeSeq });
    }
    if (!sameState(this.state, next)) await this.saveState(next);

    const stats: PassStats = {
      audiences: audiences.length,
      users: 0,
      folded: 0,
      direct: 0,
      stored: 0,
      watermark: W,
    };
    if (H <= W) return stats;
    const byProperty = new Map<number, TriggerAudience[]>();
    for (const a of audiences) {
      const list = byProperty.get(a.propertyId);
      if (list) list.push(a);
      else byProperty.set(a.propertyId, [a]);
    }
    for (const [propertyId, list] of byProperty) {
      const r = await this.processProperty(propertyId, list, next, steady, W, H);
      stats.users += r.users;
      stats.folded += r.folded;
      stats.direct += r.direct;
      stats.stored += r.stored;
    }
    // Only after every trigger of (W, H] is durable (see the header).
    await this.opts.progress.saveWatermark(H, passStart);
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
    steady: ReadonlySet<number>,
    W: bigint,
    H: bigint,
  ): Promise<{ users: number; folded: number; direct: number; stored: number }> {
    const timeZone = (await new PropertyRepository(this.opts.catalog).timeZone(propertyId)) ?? 'UTC';
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
    if (plans.length === 0) return { users: 0, folded: 0, direct: 0, stored: 0 };
    // Events before every audience's window cannot change a trigger.
    const starts = plans.map((p) => windowStartMicros(p.config));
    const lower = starts.some((s) => s === null)
      ? null
      : starts.reduce((m, s) => (s! < m! ? s : m), starts[0]!);
    const exec = this.opts.executor;
    const queries = new PassQueries(exec, { propertyId: BigInt(propertyId), after: W, upTo: H, lower });

    const summary = (await exec.rows(queries.summary()))[0];
    const users = Number(summary?.users ?? 0);
    if (users === 0) return { users: 0, folded: 0, direct: 0, stored: 0 };
    const receivedAt = this.now();
    // Triggers depend only on the events, not on `now`; a `now` past every event keeps
    // slightly-future events (MP allows a minute of clock skew) from being skipped for good.
    const last = summary?.last_timestamp === null ? null : BigInt(summary?.last_timestamp as bigint);
    const evalNow = last !== null && last > receivedAt ? last : receivedAt;

    // The pass's users' stored trigger events: each cancels one planned trigger (see the header).
    const storedTriggers = new Map<string, StoredEvent[]>();
    await exec.streamEvents(queries.storedTriggers(), (chunk) => {
      for (const e of chunk) {
        const list = storedTriggers.get(e.user_pseudo_id);
        if (list) list.push(e);
        else storedTriggers.set(e.user_pseudo_id, [e]);
      }
    });

    const toStore: NewEvent[] = [];
    let folded = 0;
    let direct = 0;
    for (const p of plans) {
      const audience = `properties/${propertyId}/audiences/${p.a.audienceId}`;
      const ctx = { propertyId: BigInt(propertyId), asOfMicros: evalNow, config: p.config, maxIngestSeq: H };
      let query;
      let fromSql;
      try {
        // A trigger at an event depends only on the events up to it. So for an audience whose
        // trigger an earlier pass already had, the events before a user's first new one (stream
        // order) were judged, with all of their predecessors, by the pass that stored the last of
        // them: only the later ones are returned.
        fromSql = queries.triggerEvents(p.a.definition, ctx, p.fromSeq, steady.has(p.a.audienceId));
        query = fromSql === null ? queries.foldEvents(p.a.definition, ctx) : null;
      } catch (err) {
        this.opts.log.error('audience trigger: cannot compile audience', { audience, error: String(err) });
        continue;
      }
      if (fromSql !== null) {
        // The triggers come from SQL, one row per trigger (sql-triggers.ts, events-sql.ts).
        const fired = new Map<string, StoredEvent[]>();
        await exec.streamEvents(fromSql, (chunk) => {
          for (const e of chunk) {
            const list = fired.get(e.user_pseudo_id);
            if (list) list.push(e);
            else fired.set(e.user_pseudo_id, [e]);
          }
        });
        direct += fired.size;
        for (const [user, events] of fired) {
          toStore.push(
            ...triggerEventsToStore({
              propertyId: BigInt(propertyId),
              audienceId: p.a.audienceId,
              audienceName: p.a.definition.displayName,
              userEvents: [...events, ...(storedTriggers.get(user) ?? [])],
              triggers: triggersOfEvents(p.a.definition, events),
              fromSeq: p.fromSeq,
              receivedAt,
            }),
          );
        }
        continue;
      }
      if (query === null) continue;
      await forEachUserHistory(exec, query, (events) => {
        folded++;
        try {
          const r = evaluateUser(p.a.definition, events, evalNow, p.config, p.compiled);
          if (r.triggers.length === 0) return;
          const stored = storedTriggers.get(events[0]!.user_pseudo_id) ?? [];
          toStore.push(
            ...triggerEventsToStore({
              propertyId: BigInt(propertyId),
              audienceId: p.a.audienceId,
              audienceName: p.a.definition.displayName,
              userEvents: stored.length === 0 ? events : [...events, ...stored],
              triggers: r.triggers,
              fromSeq: p.fromSeq,
              receivedAt,
            }),
          );
        } catch (err) {
          // One bad (audience, user) must not hold back every later pass.
          this.opts.log.error('audience trigger: evaluation failed', {
            audience,
            user: events[0]!.user_pseudo_id,
            error: String(err),
          });
        }
      });
    }

    for (let i = 0; i < toStore.length; i += SUBMIT_BATCH) {
      await this.opts.submit(toStore.slice(i, i + SUBMIT_BATCH));
    }
    return { users, folded, direct, stored: toStore.length };
  }

  /** Non-archived audiences with an eventTrigger (one catalog query; definitions parsed only for those). */
  private async triggerAudiences(): Promise<TriggerAudience[]> {
    const rows = await new AudienceRepository(this.opts.catalog).withPossibleTrigger();
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
    const { watermark, lastPass, audiences } = await this.opts.progress.load();
    this.watermark = watermark;
    // An idle pass of this process (no trigger audiences) may be more recent.
    if (this.lastPass === null || (lastPass !== null && lastPass > this.lastPass)) this.lastPass = lastPass;
    this.state = audiences;
    this.loaded = true;
  }

  private async saveState(next: Map<number, AudienceState>): Promise<void> {
    await this.opts.progress.saveAudiences(next);
    this.state = next;
  }

  private async highWaterMark(): Promise<bigint> {
    return this.opts.progress.highWaterMark();
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
