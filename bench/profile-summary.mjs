// Summarizes a .cpuprofile: self time by function and inclusive time of the top frames.
// Usage: node bench/profile-summary.mjs <file.cpuprofile> [rows=40]
import { readFileSync } from 'node:fs';

const [file, rowsArg] = process.argv.slice(2);
const rows = Number(rowsArg ?? 40);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
const total = new Map();
const dt = profile.timeDeltas;
let all = 0;
const label = (n) => {
  const f = n.callFrame;
  const url = f.url.replace(/^.*\/(node_modules|src)\//, '$1/');
  return `${f.functionName || '(anon)'} ${url}:${f.lineNumber + 1}`;
};
for (let i = 0; i < profile.samples.length; i++) {
  const d = (dt[i + 1] ?? dt[i] ?? 0) / 1000;
  all += d;
  const n = byId.get(profile.samples[i]);
  const l = label(n);
  self.set(l, (self.get(l) ?? 0) + d);
  const seen = new Set();
  for (let id = n.id; id !== undefined; id = parent.get(id)) {
    const ll = label(byId.get(id));
    if (seen.has(ll)) continue;
    seen.add(ll);
    total.set(ll, (total.get(ll) ?? 0) + d);
  }
}
const show = (title, m) => {
  console.log(`\n${title} (of ${all.toFixed(0)} ms)`);
  for (const [l, ms] of [...m].sort((a, b) => b[1] - a[1]).slice(0, rows))
    console.log(`${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / all).toFixed(1).padStart(5)}%  ${l}`);
};
show('self', self);
show('inclusive', total);
