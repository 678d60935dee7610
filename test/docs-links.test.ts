// The project's docs stand alone: every relative link and anchor resolves, every file path they
// mention exists in the repository, and none names an absolute machine path or a document that
// lives outside the repository (design notes and specs the project does not ship).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const SKIP = new Set(['node_modules', 'dist', 'audex-data', '.tmp', '.git', 'results']);

function markdownFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name) || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...markdownFiles(p));
    else if (name.endsWith('.md')) out.push(p);
  }
  return out;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const set = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of markdown.replace(/^```[\s\S]*?^```$/gm, '').matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[`*_]/g, '')
      .replace(/[^\p{L}\p{N}\s-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    set.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return set;
}

const files = markdownFiles(ROOT);

test('the docs are found (README, docs/, module READMEs)', () => {
  const rel = files.map((f) => relative(ROOT, f));
  for (const f of ['README.md', 'docs/getting-started.md', 'docs/audiences.md', 'docs/exports.md'])
    assert.ok(rel.includes(f), f);
});

test('every relative link resolves to a file in the repository, and every anchor to a heading', () => {
  const problems: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```$/gm, '');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const abs = path === '' ? file : resolve(dirname(file), path);
      const where = `${relative(ROOT, file)}: (${target})`;
      if (!abs.startsWith(ROOT + '/') && abs !== ROOT)
        problems.push(`${where} points outside the repository`);
      else if (!existsSync(abs)) problems.push(`${where} does not exist`);
      else if (anchor && abs.endsWith('.md') && !anchors(readFileSync(abs, 'utf8')).has(anchor))
        problems.push(`${where}: no heading #${anchor}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('every file path the docs mention exists in the repository', () => {
  const problems: string[] = [];
  const pathLike =
    /(?<![\w./-])((?:src|docs|test|bench|scripts|bin|\.ci)\/[\w./-]*[\w-]\.[a-z]{1,5})(?![\w/])/g;
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(pathLike)) {
      const p = m[1]!;
      // Paths are written from the repository root, or relative to the document's folder.
      if (!existsSync(join(ROOT, p)) && !existsSync(join(dirname(file), p)))
        problems.push(`${relative(ROOT, file)} mentions ${p}, which is not in the repository`);
    }
  }
  assert.deepEqual(problems, []);
});

test('no absolute machine paths, no documents from outside the repository', () => {
  const problems: string[] = [];
  const forbidden: [RegExp, string][] = [
    [/(?<![\w.])\/(?:work|home|Users|root|mnt)\/[\w.-]+/g, 'an absolute machine path'],
    [/[A-Z]:\\\\?[\w.-]+\\/g, 'a Windows path'],
    [/\.\.\/shared\b|(?<![\w/])shared\/(?:spec|DESIGN|STYLE)/g, 'a folder outside the repository'],
    [/(?<![\w/.-])spec\/[\w-]+\.md/g, 'a spec file the repository does not ship'],
  ];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const [re, what] of forbidden)
      for (const m of text.matchAll(re)) problems.push(`${relative(ROOT, file)}: "${m[0]}" is ${what}`);
  }
  assert.deepEqual(problems, []);
});
