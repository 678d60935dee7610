import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router } from './router.ts';

test('google.api.http templates bind variables, custom verbs and wildcards', () => {
  const r = new Router<string>()
    .add('POST', '/v1beta/{name=properties/*/audienceExports/*}:query', 'query')
    .add('GET', '/v1beta/{name=properties/*/audienceExports/*}', 'get')
    .add('GET', '/v1beta/{parent=properties/*}/audienceExports', 'list')
    .add('GET', '/v1/{name=operations/**}', 'op');
  assert.deepEqual(r.match('POST', '/v1beta/properties/1/audienceExports/9:query'), {
    handler: 'query',
    params: { name: 'properties/1/audienceExports/9' },
  });
  assert.deepEqual(r.match('GET', '/v1beta/properties/1/audienceExports/9'), {
    handler: 'get',
    params: { name: 'properties/1/audienceExports/9' },
  });
  assert.deepEqual(r.match('GET', '/v1beta/properties/12/audienceExports'), {
    handler: 'list',
    params: { parent: 'properties/12' },
  });
  assert.deepEqual(r.match('GET', '/v1/operations/a/b'), {
    handler: 'op',
    params: { name: 'operations/a/b' },
  });
  assert.equal(r.match('DELETE', '/v1beta/properties/1/audienceExports/9'), 'method-not-allowed');
  assert.equal(r.match('GET', '/v1beta/properties/1/x/audienceExports'), null);
  // The custom verb is part of the path: a GET on it finds only the POST route.
  assert.equal(r.match('GET', '/v1beta/properties/1/audienceExports/9:query'), 'method-not-allowed');
  assert.equal(r.match('POST', '/v1beta/properties/1/audienceExports/9:export'), null);
});
