// Time as µs since the epoch (bigint), the unit of event timestamps, and its RFC 3339 rendering.

/** Wall-clock now in µs. Injected clocks replace this in tests via the Clock type. */
export function nowMicros(): bigint {
  return BigInt(Date.now()) * 1000n;
}

export type Clock = () => bigint;

/** RFC 3339 UTC with "Z" and 6 fractional digits (µs precision), as proto3 JSON Timestamps allow. */
export function microsToRfc3339(us: bigint | number): string {
  const v = BigInt(us);
  const ms = v / 1000n;
  const micros = ((v % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const base = new Date(Number(ms)).toISOString().slice(0, 19);
  return `${base}.${micros.toString().padStart(6, '0')}Z`;
}

/** A proto3 JSON Timestamp string to µs; null when it does not parse. */
export function rfc3339ToMicros(s: string): bigint | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return null;
  const secs = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(secs)) return null;
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 6);
  return BigInt(secs) * 1000n + BigInt(frac);
}

/** µs to {seconds, nanos} (google.protobuf.Timestamp as gRPC carries it). */
export function microsToTimestamp(us: bigint): { seconds: string; nanos: number } {
  const seconds = us >= 0n ? us / 1_000_000n : -((-us + 999_999n) / 1_000_000n);
  return { seconds: seconds.toString(), nanos: Number(us - seconds * 1_000_000n) * 1000 };
}
