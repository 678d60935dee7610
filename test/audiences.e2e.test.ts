// Admin API v1alpha audiences with the official client (REST mode) against a running server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { adminClient } from './helpers/clients.ts';
import { E4, E7, E12 } from '../src/audience/fixtures/examples.ts';

/** The spec's proto3 JSON, as a client-side message object (Durations are {seconds} there). */
function asMessage(json: unknown): never {
  return JSON.parse(JSON.stringify(json), (key, value) =>
    (key === 'sequenceMaximumDuration' || key === 'constraintDuration') && typeof value === 'string'
      ? { seconds: value.replace(/s$/, '') }
      : value,
  ) as never;
}

describe('audiences with the official admin client', () => {
  let server: RunningServer;
  let property: string;
  before(async () => {
    server = await startServer();
    property = (await api(server, 'POST', '/v1beta/properties', { displayName: 'Shop', timeZone: 'UTC' }))
      .json.name;
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  test('every property has the built-in All Users and Purchasers audiences, without filter clauses', async () => {
    const client = adminClient(server.port, ADMIN_KEY);
    const [list] = await client.listAudiences({ parent: property });
    assert.deepEqual(list.map((a) => a.displayName).sort(), ['All Users', 'Purchasers']);
    for (const a of list) assert.deepEqual(a.filterClauses, []);
  });

  test('creates, gets, lists, patches and archives audiences', async () => {
    const client = adminClient(server.port, ADMIN_KEY);
    const created = [];
    for (const def of [E4, E7, E12]) {
      const [a] = await client.createAudience({ parent: property, audience: asMessage(def) });
      assert.match(a.name!, new RegExp(`^${property}/audiences/\\d+$`));
      assert.equal(a.displayName, (def as { displayName: string }).displayName);
      assert.ok(a.createTime);
      created.push(a);
    }
    const [e7] = await client.getAudience({ name: created[1]!.name! });
    assert.equal(e7.filterClauses![0]!.sequenceFilter!.sequenceMaximumDuration!.seconds, '604800');
    assert.equal(e7.filterClauses![0]!.sequenceFilter!.sequenceSteps!.length, 2);

    const [page1, next] = await client.listAudiences(
      { parent: property, pageSize: 2 },
      { autoPaginate: false },
    );
    assert.equal(page1.length, 2);
    assert.ok(next?.pageToken);
    const all = [];
    // The async iterator pages by itself; autoPaginate: false says so (else gax warns).
    for await (const a of client.listAudiencesAsync(
      { parent: property, pageSize: 2 },
      { autoPaginate: false },
    ))
      all.push(a.name);
    assert.equal(all.length, 5);

    const [patched] = await client.updateAudience({
      audience: { name: created[0]!.name!, displayName: 'Cart abandoners (renamed)' },
      updateMask: { paths: ['display_name'] },
    });
    assert.equal(patched.displayName, 'Cart abandoners (renamed)');
    assert.equal(patched.membershipDurationDays, 30);

    await assert.rejects(
      client.updateAudience({
        audience: { name: created[0]!.name!, membershipDurationDays: 10 },
        updateMask: { paths: ['membership_duration_days'] },
      }),
      (err: { code: number; message: string }) =>
        err.code === 3 && /membership_duration_days/.test(err.message),
    );

    // Clearing the trigger: the client sends an Audience with only its name (moved into the URL),
    // i.e. an empty message, as the body "".
    assert.ok(created[2]!.eventTrigger?.eventName);
    const [cleared] = await client.updateAudience({
      audience: { name: created[2]!.name! },
      updateMask: { paths: ['event_trigger'] },
    });
    assert.equal(cleared.eventTrigger, null);
    assert.equal((await client.getAudience({ name: created[2]!.name! }))[0].eventTrigger, null);
    // A required field named by the mask but absent from that empty body is refused, naming it.
    await assert.rejects(
      client.updateAudience({
        audience: { name: created[2]!.name! },
        updateMask: { paths: ['display_name'] },
      }),
      (err: { code: number; message: string }) => err.code === 3 && /display_name/.test(err.message),
    );

    await client.archiveAudience({ name: created[0]!.name! });
    const after = [];
    for await (const a of client.listAudiencesAsync({ parent: property }, { autoPaginate: false }))
      after.push(a.name);
    assert.ok(!after.includes(created[0]!.name));
    assert.equal(after.length, 4);
  });

  test('invalid definitions get INVALID_ARGUMENT with BadRequest field violations', async () => {
    const res = await api(server, 'POST', `/v1alpha/${property}/audiences`, {
      displayName: 'bad',
      description: 'bad',
      membershipDurationDays: 30,
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          simpleFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
            filterExpression: {
              orGroup: { filterExpressions: [{ eventFilter: { eventName: 'purchase' } }] },
            },
          },
        },
      ],
    });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.status, 'INVALID_ARGUMENT');
    const violations = res.json.error.details.find((d: { '@type': string }) =>
      d['@type'].endsWith('BadRequest'),
    ).fieldViolations;
    assert.ok(
      violations.some((v: { field: string }) =>
        v.field.startsWith('filter_clauses[0].simple_filter.filter_expression'),
      ),
    );
  });
});
