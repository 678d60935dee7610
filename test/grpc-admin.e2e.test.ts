// The official admin client in its default gRPC mode (plaintext, local endpoint).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { adminGrpcClient, grpcCall } from './helpers/clients.ts';

describe('Admin API over gRPC', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  test('creates and lists a property, stream and secret; audiences too', async () => {
    const client = adminGrpcClient(server.grpcPort);
    const call = grpcCall(ADMIN_KEY);
    const [property] = await client.createProperty(
      {
        property: {
          parent: 'accounts/1',
          displayName: 'gRPC shop',
          timeZone: 'America/New_York',
          currencyCode: 'USD',
        },
      },
      call,
    );
    assert.match(property.name!, /^properties\/\d+$/);
    assert.equal(property.timeZone, 'America/New_York');
    assert.ok(property.createTime?.seconds, 'timestamps travel as google.protobuf.Timestamp');
    const [stream] = await client.createDataStream(
      { parent: property.name!, dataStream: { type: 'WEB_DATA_STREAM', displayName: 'w' } },
      call,
    );
    assert.match(stream.webStreamData!.measurementId!, /^G-/);
    const [secret] = await client.createMeasurementProtocolSecret(
      { parent: stream.name!, measurementProtocolSecret: { displayName: 's' } },
      call,
    );
    const [secrets] = await client.listMeasurementProtocolSecrets({ parent: stream.name! }, call);
    assert.deepEqual(
      secrets.map((s) => s.secretValue),
      [secret.secretValue],
    );

    const [audience] = await client.createAudience(
      {
        parent: property.name!,
        audience: {
          displayName: 'Buyers',
          description: 'purchase',
          membershipDurationDays: 30,
          filterClauses: [
            {
              clauseType: 'INCLUDE',
              sequenceFilter: {
                scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
                sequenceMaximumDuration: { seconds: 3600 },
                sequenceSteps: [
                  {
                    scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
                    filterExpression: {
                      andGroup: {
                        filterExpressions: [
                          { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'view_item' } }] } },
                        ],
                      },
                    },
                  },
                  {
                    scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
                    constraintDuration: { seconds: 600 },
                    filterExpression: {
                      andGroup: {
                        filterExpressions: [
                          { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'purchase' } }] } },
                        ],
                      },
                    },
                  },
                ],
              },
            },
          ],
        },
      },
      call,
    );
    assert.equal(audience.filterClauses![0]!.sequenceFilter!.sequenceMaximumDuration!.seconds, '3600');
    const [list] = await client.listAudiences({ parent: property.name! }, call);
    assert.equal(list.length, 3, 'two built-ins and the new one');
  });

  test('errors carry the canonical code and the REST message', async () => {
    const client = adminGrpcClient(server.grpcPort);
    await assert.rejects(
      client.getProperty({ name: 'properties/424242' }, grpcCall(ADMIN_KEY)),
      (e: { code: number }) => e.code === 5,
    );
    await assert.rejects(
      client.getProperty({ name: 'properties/1' }),
      (e: { code: number; reason?: string }) => e.code === 16 && e.reason === 'CREDENTIALS_MISSING',
      'no key: UNAUTHENTICATED, CREDENTIALS_MISSING',
    );
    await assert.rejects(
      client.getProperty({ name: 'properties/1' }, grpcCall('audex_unknown-key-0000000000000000')),
      (e: { code: number; reason?: string }) => e.code === 16 && e.reason === 'API_KEY_INVALID',
      'an unknown key: UNAUTHENTICATED, API_KEY_INVALID',
    );
    await assert.rejects(
      client.createProperty(
        { property: { displayName: 'x', timeZone: 'Nowhere/Else' } },
        grpcCall(ADMIN_KEY),
      ),
      (e: { code: number; message: string; statusDetails?: unknown[] }) =>
        e.code === 3 && /time_zone/.test(e.message),
    );
    await assert.rejects(
      client.runAccessReport({ entity: 'properties/1' }, grpcCall(ADMIN_KEY)),
      (e: { code: number; message: string }) => e.code === 12 && /not implemented/.test(e.message),
    );
  });
});
