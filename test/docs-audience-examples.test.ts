// docs/audiences.md §9 holds complete Audience JSON for the worked examples (simple, session,
// sequence, exclusion, N-day, event trigger): each block must parse, pass validation, and equal
// the fixture the semantic tests use, so the document shows what is tested. The audience of
// docs/getting-started.md must be valid too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAudience } from '../src/audience/validate.ts';
import { EXAMPLES } from '../src/audience/fixtures/examples.ts';

const DOCS = join(import.meta.dirname, '..', 'docs');

test('every JSON example of docs/audiences.md §9 is valid and equals its fixture', () => {
  const doc = readFileSync(join(DOCS, 'audiences.md'), 'utf8');
  const section = doc.slice(doc.indexOf('\n## 9. Complete examples'));
  assert.ok(section.length > 100, 'docs/audiences.md has §9');
  const examples = [...section.matchAll(/^### (E\d+\w*)\. (.+)\n\n```json\n([\s\S]*?)^```$/gm)];
  const kinds = examples.map((m) => m[2]!.split(':')[0]);
  assert.deepEqual(kinds, ['Simple', 'Session', 'Sequence', 'Exclusion', 'N-day period', 'Event trigger']);
  for (const [, id, , json] of examples) {
    const audience: unknown = JSON.parse(json!);
    assert.doesNotThrow(() => parseAudience(audience), `${id} is valid`);
    assert.deepEqual(audience, EXAMPLES[id as keyof typeof EXAMPLES], `${id} equals its fixture`);
  }
});

test("docs/getting-started.md's audience is valid", () => {
  const doc = readFileSync(join(DOCS, 'getting-started.md'), 'utf8');
  const json = /<<'JSON'\n([\s\S]*?)\nJSON\n/.exec(doc)?.[1];
  assert.ok(json);
  const def = parseAudience(JSON.parse(json));
  assert.equal(def.displayName, 'Cart abandoners (7 days)');
});
