// A pre-rendered JSON value. Large results (a 250,000-row query page) are rendered by the engine
// straight into JSON, as text or as UTF-8 bytes (a byte range of a pre-rendered file, see
// src/storage/duckdb/rendered-rows.ts); a JSON transport splices them in instead of building and
// serialising millions of small objects, and writes bytes to the socket without ever making
// them a JS string (jsonChunks). Transports that need objects parse it (toValue).

export class RawJson {
  /**
   * @param onRelease called once by release(): the bytes may be borrowed from a pool (a query page)
   *   and go back to it when the transport no longer needs them.
   */
  constructor(
    readonly data: string | Buffer,
    private onRelease?: () => void,
  ) {}

  /** The transport is done with data (written to the socket, or parsed); at most once. */
  release(): void {
    const f = this.onRelease;
    this.onRelease = undefined;
    f?.();
  }

  /** The JSON as a string (decodes bytes: avoid on the fast path). */
  get text(): string {
    return typeof this.data === 'string' ? this.data : this.data.toString('utf8');
  }

  toValue(): unknown {
    return JSON.parse(this.text);
  }
}

/**
 * JSON.stringify of value, as pieces to write one after the other: JSON text, with each RawJson
 * spliced in as it is (its string, or its bytes untouched). One string when there is no RawJson.
 * The RawJson values met are appended to `found` (to release them once written).
 */
export function jsonChunks(value: unknown, found?: RawJson[]): (string | Buffer)[] {
  const raws: RawJson[] = found ?? [];
  const first = raws.length;
  const marker = `\u0000raw${Math.random().toString(36).slice(2)}:`;
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof RawJson) {
      raws.push(v);
      return `${marker}${raws.length - 1}`;
    }
    return v;
  });
  if (raws.length === first) return [text];
  // The marker holds a NUL, which JSON.stringify escapes as \u0000, so it cannot collide with data.
  const escaped = JSON.stringify(marker)
    .slice(1, -1)
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`"${escaped}(\\d+)"`, 'g');
  const out: (string | Buffer)[] = [];
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(raws[Number(m[1])]!.data);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** JSON.stringify that splices RawJson values in as they are. */
export function stringifyWithRaw(value: unknown): string {
  return jsonChunks(value)
    .map((c) => (typeof c === 'string' ? c : c.toString('utf8')))
    .join('');
}
