// A pre-rendered JSON value. Large results (a 250,000-row query page) are rendered by the engine
// straight into JSON text; a JSON transport splices the text in instead of building and
// serialising millions of small objects. Transports that need objects parse it.

export class RawJson {
  constructor(readonly text: string) {}

  toValue(): unknown {
    return JSON.parse(this.text);
  }
}

/** JSON.stringify that splices RawJson values in as they are. */
export function stringifyWithRaw(value: unknown): string {
  const raws: string[] = [];
  const marker = `\u0000raw${Math.random().toString(36).slice(2)}:`;
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `${marker}${raws.length - 1}`;
    }
    return v;
  });
  if (raws.length === 0) return text;
  // The marker holds a NUL, which JSON.stringify escapes as \u0000, so it cannot collide with data.
  const escaped = JSON.stringify(marker)
    .slice(1, -1)
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`"${escaped}(\\d+)"`, 'g'), (_m, i: string) => raws[Number(i)]!);
}
