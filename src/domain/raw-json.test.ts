import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawJson, stringifyWithRaw } from './raw-json.ts';

test('raw JSON is spliced in as it is; data that looks like the marker is not touched', () => {
  const value = {
    a: 1,
    rows: new RawJson('[{"x":"\\u0000raw"},2]'),
    s: '\u0000raw0',
    nested: [new RawJson('{}')],
  };
  const text = stringifyWithRaw(value);
  assert.deepEqual(JSON.parse(text), { a: 1, rows: [{ x: '\u0000raw' }, 2], s: '\u0000raw0', nested: [{}] });
  assert.equal(stringifyWithRaw({ b: 'plain' }), '{"b":"plain"}');
});
