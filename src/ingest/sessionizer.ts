// Session assignment for events that arrive without a session id: GA's 30-minute
// inactivity rule per (property, user_pseudo_id), with a bounded in-memory LRU of user state.
//
// Rules (deterministic for a given sequence of batches):
// - Within a batch, each user's events are processed in (event_timestamp, input order) order.
// - An event without ga_session_id continues the user's current session when it is at most
//   `timeoutMicros` (30:00) after the session's last event; a gap of 30:00 exactly continues,
//   30:00.000001 or more starts a new session whose id is the event's unix seconds and whose
//   number is the previous number + 1 (1 for a user we have no state for).
// - An event with ga_session_id (MP session_id, gtag sid, import) is trusted: a session id not seen
//   recently for the user starts a new session (number + 1, unless the event carries
//   ga_session_number, which then wins); the same id continues the session.
// - Late events (older than the current session's start minus the timeout) are sessionised among
//   themselves within the batch (ids from their own times) and get ga_session_number null: we no
//   longer know how many sessions came before them. They do not change the user's state.
// - Limitation: state lives in memory only. After a restart, or once a user is evicted from the
//   LRU, the user's next event starts a new session numbered 1 (or from its ga_session_number).

import type { NewEvent } from '../domain/event.ts';

export const SESSION_TIMEOUT_MICROS = 30n * 60n * 1_000_000n;

interface UserState {
  /** Timestamp of the latest event of the current session. */
  lastTs: bigint;
  /** Timestamp of the first event we saw in the current session. */
  startTs: bigint;
  sessionId: bigint;
  sessionNumber: number;
  /** Recently seen (sessionId, sessionNumber) pairs, newest last, for events of earlier sessions. */
  recent: [bigint, number][];
}

const RECENT_SESSIONS = 4;

export interface SessionizerOptions {
  /** Users kept in memory (LRU). Default 100,000. */
  maxUsers?: number;
  /** Inactivity timeout in µs. Default 30 minutes. */
  timeoutMicros?: bigint;
}

export class Sessionizer {
  private readonly users = new Map<string, UserState>();
  private readonly maxUsers: number;
  private readonly timeout: bigint;
  private evictCursor: MapIterator<string> | undefined;

  constructor(options: SessionizerOptions = {}) {
    this.maxUsers = options.maxUsers ?? 100_000;
    this.timeout = options.timeoutMicros ?? SESSION_TIMEOUT_MICROS;
  }

  /** Users currently tracked (at most maxUsers). */
  get size(): number {
    return this.users.size;
  }

  /**
   * Fills ga_session_id (when null) and ga_session_number (when null) on every event, in place,
   * and returns the same array.
   */
  assign<E extends NewEvent>(events: E[]): E[] {
    // Group by user, keeping input order; then sort each group by timestamp (stable).
    const groups = new Map<string, E[]>();
    for (const e of events) {
      const key = `${e.property_id}\u0000${e.user_pseudo_id}`;
      const g = groups.get(key);
      if (g) g.push(e);
      else groups.set(key, [e]);
    }
    for (const [key, group] of groups) {
      if (group.length > 1)
        group.sort((a, b) =>
          a.event_timestamp < b.event_timestamp ? -1 : a.event_timestamp > b.event_timestamp ? 1 : 0,
        );
      this.assignUser(key, group);
    }
    return events;
  }

  private touch(key: string, state: UserState): void {
    this.users.delete(key);
    this.users.set(key, state);
    if (this.users.size > this.maxUsers) {
      const oldest = this.oldestKey();
      if (oldest !== undefined) this.users.delete(oldest);
    }
  }

  /**
   * The least recently used key: the first live entry in insertion order. A fresh
   * `users.keys().next()` would walk over every entry deleted since the table was last compacted
   * (each touch deletes one near the front), which made a full LRU quadratic (an import of 200k
   * users spent 10 µs per event here instead of ~2). The kept iterator only moves forward: every
   * entry before it has been evicted, and a Map iterator stays valid across deletes and inserts.
   */
  private oldestKey(): string | undefined {
    let next = this.evictCursor?.next();
    if (!next || next.done) {
      this.evictCursor = this.users.keys();
      next = this.evictCursor.next();
    }
    return next.done ? undefined : next.value;
  }

  private assignUser(key: string, group: NewEvent[]): void {
    let state = this.users.get(key);
    // Late events: their own mini-sessionisation, not touching the user state.
    let lateLast: bigint | null = null;
    let lateId = 0n;
    // The LRU is touched once per user and batch (the same order as touching at every event).
    let touched = false;
    for (const e of group) {
      const t = e.event_timestamp;
      if (e.ga_session_id !== null) {
        const sid = e.ga_session_id;
        if (!state) {
          state = {
            lastTs: t,
            startTs: t,
            sessionId: sid,
            sessionNumber: e.ga_session_number ?? 1,
            recent: [],
          };
        } else if (sid === state.sessionId) {
          if (e.ga_session_number !== null) state.sessionNumber = e.ga_session_number;
          if (t > state.lastTs) state.lastTs = t;
          if (t < state.startTs) state.startTs = t;
        } else {
          const known = state.recent.find(([id]) => id === sid);
          if (known) {
            // An event of an earlier session of this user: keep its number, do not switch.
            e.ga_session_number ??= known[1];
            continue;
          }
          if (t < state.startTs - this.timeout) {
            // An unknown older session: do not switch the current one.
            continue;
          }
          this.remember(state);
          state.sessionId = sid;
          state.sessionNumber = e.ga_session_number ?? state.sessionNumber + 1;
          state.lastTs = t;
          state.startTs = t;
        }
        e.ga_session_number ??= state.sessionNumber;
        touched = true;
        continue;
      }
      if (!state) {
        state = {
          lastTs: t,
          startTs: t,
          sessionId: secondsOf(t),
          sessionNumber: e.ga_session_number ?? 1,
          recent: [],
        };
      } else if (t >= state.lastTs) {
        if (t - state.lastTs > this.timeout) {
          this.remember(state);
          state.sessionId = secondsOf(t);
          state.sessionNumber = e.ga_session_number ?? state.sessionNumber + 1;
          state.startTs = t;
        }
        state.lastTs = t;
      } else if (t >= state.startTs - this.timeout) {
        // Out of order but within the current session's reach.
        if (t < state.startTs) state.startTs = t;
      } else {
        if (lateLast === null || t - lateLast > this.timeout) lateId = secondsOf(t);
        lateLast = t;
        e.ga_session_id = lateId;
        continue;
      }
      e.ga_session_id = state.sessionId;
      e.ga_session_number ??= state.sessionNumber;
      touched = true;
    }
    if (touched && state) this.touch(key, state);
  }

  private remember(state: UserState): void {
    state.recent.push([state.sessionId, state.sessionNumber]);
    if (state.recent.length > RECENT_SESSIONS) state.recent.shift();
  }
}

function secondsOf(micros: bigint): bigint {
  return micros >= 0n ? micros / 1_000_000n : (micros - 999_999n) / 1_000_000n;
}
