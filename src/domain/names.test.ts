import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './errors.ts';
import { parseName, parseProperty } from './names.ts';

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 'INVALID_ARGUMENT');
    return err.message;
  }
  assert.fail('expected INVALID_ARGUMENT');
}

describe('parseName', () => {
  it('returns the ids outermost first', () => {
    assert.deepEqual(parseName('audience', 'properties/12/audiences/3', 'name'), [12, 3]);
    assert.deepEqual(
      parseName('mpSecret', 'properties/1/dataStreams/2/measurementProtocolSecrets/3', 'n'),
      [1, 2, 3],
    );
    assert.equal(parseProperty('properties/7'), 7);
  });

  it('prints the expected form without regex escapes', () => {
    assert.equal(
      messageOf(() => parseName('audience', 'properties/1/audiences/x', 'audience')),
      'audience: must be a resource name of the form properties/{id}/audiences/{id} (got "properties/1/audiences/x").',
    );
    assert.equal(
      messageOf(() => parseName('mpSecret', 42, 'name')),
      'name: must be a resource name of the form properties/{id}/dataStreams/{id}/measurementProtocolSecrets/{id} (got 42).',
    );
    assert.equal(
      messageOf(() => parseProperty('properties/abc', 'parent')),
      'parent: must be a resource name of the form properties/{id} (got "properties/abc").',
    );
    for (const kind of [
      'account',
      'property',
      'dataStream',
      'mpSecret',
      'audience',
      'audienceExport',
      'audienceList',
      'recurringAudienceList',
    ] as const) {
      const msg = messageOf(() => parseName(kind, 'nope', 'f'));
      assert.doesNotMatch(msg, /\\/, msg);
      assert.match(msg, /of the form [a-zA-Z]+\/\{id\}/, msg);
    }
  });
});
