import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Sessionizer } from './sessionizer.ts';
import type { NewEvent } from '../domain/event.ts';
import { baseEvent } from '../../test/helpers/event-fixtures.ts';

const T0 = 1_717_200_000_000_000n; // 2024-06-01T00:00:00Z
const S = 1_000_000n;
const MIN = 60n * S;

function ev(user: string, t: bigint, over: Partial<NewEvent> = {}): NewEvent {
  return baseEvent({
    event_timestamp: t,
    event_date: '20240601',
    received_at: t,
    user_pseudo_id: user,
    ga_session_id: null,
    ga_session_number: null,
    ...over,
  });
}

function sessions(events: NewEvent[]): [bigint | null, number | null][] {
  return events.map((e) => [e.ga_session_id, e.ga_session_number]);
}

const sec = (t: bigint): bigint => t / S;

describe('Sessionizer', () => {
  it('a gap of 29:59 continues the session; 30:01 starts a new one', () => {
    const s = new Sessionizer();
    const t1 = T0 + 29n * MIN + 59n * S;
    const t2 = t1 + 30n * MIN + S;
    const events = s.assign([ev('a', T0), ev('a', t1), ev('a', t2)]);
    assert.deepEqual(sessions(events), [
      [sec(T0), 1],
      [sec(T0), 1],
      [sec(t2), 2],
    ]);
  });

  it('a gap of exactly 30:00 continues the session', () => {
    const s = new Sessionizer();
    const events = s.assign([ev('a', T0), ev('a', T0 + 30n * MIN), ev('a', T0 + 60n * MIN + 1n)]);
    assert.deepEqual(sessions(events), [
      [sec(T0), 1],
      [sec(T0), 1],
      [sec(T0 + 60n * MIN), 2],
    ]);
  });

  it('the inactivity gap is measured from the last event, across batches', () => {
    const s = new Sessionizer();
    s.assign([ev('a', T0)]);
    const [b] = s.assign([ev('a', T0 + 25n * MIN)]);
    const [c] = s.assign([ev('a', T0 + 50n * MIN)]);
    const [d] = s.assign([ev('a', T0 + 81n * MIN)]);
    assert.deepEqual(sessions([b!, c!, d!]), [
      [sec(T0), 1],
      [sec(T0), 1],
      [sec(T0 + 81n * MIN), 2],
    ]);
  });

  it('orders a batch by time per user (out-of-order input)', () => {
    const s = new Sessionizer();
    const late = ev('a', T0 + 40n * MIN);
    const early = ev('a', T0);
    const mid = ev('a', T0 + 20n * MIN);
    s.assign([late, early, mid]);
    assert.deepEqual(sessions([early, mid, late]), [
      [sec(T0), 1],
      [sec(T0), 1],
      [sec(T0), 1],
    ]);
  });

  it('late events of an older period get their own session with no number', () => {
    const s = new Sessionizer();
    s.assign([ev('a', T0 + 10n * 60n * MIN)]);
    const old1 = ev('a', T0);
    const old2 = ev('a', T0 + 5n * MIN);
    const near = ev('a', T0 + 10n * 60n * MIN - 20n * MIN);
    s.assign([old1, old2, near]);
    assert.deepEqual(sessions([old1, old2, near]), [
      [sec(T0), null],
      [sec(T0), null],
      [sec(T0 + 10n * 60n * MIN), 1],
    ]);
    const [next] = s.assign([ev('a', T0 + 10n * 60n * MIN + 5n * MIN)]);
    assert.deepEqual(
      sessions([next!]),
      [[sec(T0 + 10n * 60n * MIN), 1]],
      'late events did not change the state',
    );
  });

  it('users and properties are independent', () => {
    const s = new Sessionizer();
    const events = s.assign([
      ev('a', T0),
      ev('b', T0 + 40n * MIN),
      ev('a', T0 + 40n * MIN),
      ev('a', T0 + 41n * MIN, { property_id: 2n }),
    ]);
    assert.deepEqual(sessions(events), [
      [sec(T0), 1],
      [sec(T0 + 40n * MIN), 1],
      [sec(T0 + 40n * MIN), 2],
      [sec(T0 + 41n * MIN), 1],
    ]);
  });

  it('tracks sent session ids: a new id increments the number; events without one join it', () => {
    const s = new Sessionizer();
    const events = s.assign([
      ev('a', T0, { ga_session_id: 111n }),
      ev('a', T0 + MIN, { ga_session_id: 111n }),
      ev('a', T0 + 2n * MIN, { ga_session_id: 222n }),
      ev('a', T0 + 3n * MIN),
      ev('a', T0 + 40n * MIN),
    ]);
    assert.deepEqual(sessions(events), [
      [111n, 1],
      [111n, 1],
      [222n, 2],
      [222n, 2],
      [sec(T0 + 40n * MIN), 3],
    ]);
    const [older] = s.assign([ev('a', T0 + 50n * MIN, { ga_session_id: 111n })]);
    assert.deepEqual(
      sessions([older!]),
      [[111n, 1]],
      'an event of a recent earlier session keeps its number',
    );
  });

  it('a sent ga_session_number wins', () => {
    const s = new Sessionizer();
    const events = s.assign([
      ev('a', T0, { ga_session_id: 5n, ga_session_number: 7 }),
      ev('a', T0 + MIN),
      ev('a', T0 + 45n * MIN),
    ]);
    assert.deepEqual(sessions(events), [
      [5n, 7],
      [5n, 7],
      [sec(T0 + 45n * MIN), 8],
    ]);
  });

  it('is bounded: the least recently used user is evicted (and restarts at 1)', () => {
    const s = new Sessionizer({ maxUsers: 100 });
    for (let i = 0; i < 1000; i++) s.assign([ev(`u${i}`, T0)]);
    assert.equal(s.size, 100);
    s.assign([ev('u999', T0 + 40n * MIN)]);
    const [again] = s.assign([ev('u0', T0 + 40n * MIN)]);
    assert.deepEqual(sessions([again!]), [[sec(T0 + 40n * MIN), 1]]);
    const [kept] = s.assign([ev('u999', T0 + 41n * MIN)]);
    assert.deepEqual(sessions([kept!]), [[sec(T0 + 40n * MIN), 2]]);
    assert.equal(s.size, 100);
  });

  it('evicts in exact LRU order while users come back and evicted users return', () => {
    const s = new Sessionizer({ maxUsers: 3 });
    // Each user's second session (40 minutes on) is number 2 if the user was kept, 1 if evicted.
    const later = (u: string, minutes: bigint): number | null =>
      s.assign([ev(u, T0 + minutes * MIN)])[0]!.ga_session_number;
    for (const u of ['a', 'b', 'c']) s.assign([ev(u, T0)]);
    s.assign([ev('a', T0 + MIN)]); // recency: b c a
    s.assign([ev('d', T0)]); // evicts b: c a d
    s.assign([ev('c', T0 + MIN)]); // a d c
    s.assign([ev('e', T0)]); // evicts a: d c e
    s.assign([ev('b', T0)]); // b is new again; evicts d: c e b
    assert.equal(s.size, 3);
    assert.equal(later('c', 40n), 2, 'c was kept'); // e b c
    assert.equal(later('e', 41n), 2, 'e was kept'); // b c e
    assert.equal(later('a', 42n), 1, 'a was evicted (and now evicts b)'); // c e a
    assert.equal(later('b', 43n), 1, 'b was evicted by a'); // e a b
    assert.equal(later('d', 44n), 1, 'd was evicted'); // a b d
    assert.equal(later('a', 85n), 2, 'a was kept since it came back');
  });

  it('is deterministic', () => {
    const make = (): NewEvent[] =>
      Array.from({ length: 500 }, (_, i) => ev(`u${i % 7}`, T0 + BigInt((i * 7919) % 200) * MIN));
    const a = new Sessionizer().assign(make());
    const b = new Sessionizer().assign(make());
    assert.deepEqual(sessions(a), sessions(b));
  });
});
