// Calendar days in the property time zone: the day of an event, and the instant a
// day starts. Days are numbered as the days since 1970-01-01 of the *local* calendar date, so
// "N days earlier" is plain integer arithmetic and DST changes never shift a window.

import { DateTime, IANAZone } from 'luxon';

const MS_PER_DAY = 86_400_000;

/** Floor division of µs to ms (correct for negative timestamps too). */
function microsToMillis(micros: bigint): number {
  const q = micros / 1000n;
  return Number(micros < 0n && q * 1000n !== micros ? q - 1n : q);
}

const calendars = new Map<string, DayCalendar>();

/** One calendar per zone per process, so its memo of day starts is shared by all users. */
export function calendarFor(timeZone: string): DayCalendar {
  let c = calendars.get(timeZone);
  if (!c) calendars.set(timeZone, (c = new DayCalendar(timeZone)));
  return c;
}

export class DayCalendar {
  private readonly zone: IANAZone;
  private readonly starts = new Map<number, bigint>();
  // Cache of the last day looked up: events arrive sorted, so most look-ups hit it.
  private cachedDay = 0;
  private cachedFrom = 1n;
  private cachedTo = 0n;
  private lastOffsetMs = 0;

  constructor(timeZone: string) {
    if (!IANAZone.isValidZone(timeZone)) throw new Error(`unknown time zone: ${timeZone}`);
    this.zone = IANAZone.create(timeZone);
  }

  /** The local calendar date of an instant, as days since 1970-01-01. */
  dayOf(micros: bigint): number {
    if (micros >= this.cachedFrom && micros < this.cachedTo) return this.cachedDay;
    const ms = microsToMillis(micros);
    // Local wall-clock time = UTC + offset at that instant; its date is the local date. Guess
    // with the last offset seen and check against the (memoised) day starts; the zone's offset
    // look-up is slow (Intl), so it runs only when the guess is wrong.
    let day = Math.floor((ms + this.lastOffsetMs) / MS_PER_DAY);
    if (!(this.startOfDay(day) <= micros && micros < this.startOfDay(day + 1))) {
      this.lastOffsetMs = this.zone.offset(ms) * 60_000;
      day = Math.floor((ms + this.lastOffsetMs) / MS_PER_DAY);
    }
    this.cachedDay = day;
    this.cachedFrom = this.startOfDay(day);
    this.cachedTo = this.startOfDay(day + 1);
    return day;
  }

  /**
   * The first instant (µs) whose local date is `day`: local midnight, or the first instant after
   * the gap when a DST change skips midnight.
   */
  startOfDay(day: number): bigint {
    const hit = this.starts.get(day);
    if (hit !== undefined) return hit;
    const d = new Date(day * MS_PER_DAY);
    const local = DateTime.fromObject(
      { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() },
      { zone: this.zone },
    );
    // Luxon moves a non-existent local midnight forward past the gap (e.g. America/Santiago
    // 2022-09-11 starts at 01:00 local), which is the definition above.
    const start = BigInt(local.toMillis()) * 1000n;
    this.starts.set(day, start);
    return start;
  }
}
