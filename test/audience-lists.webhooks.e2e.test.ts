// v1alpha webhook notifications end to end: a local receiver (node:http on 127.0.0.1; the server
// runs with AUDEX_ALLOW_HTTP_WEBHOOKS=1 and small retry delays) gets exactly the documented POSTs
// of an audience list (CREATING, then ACTIVE) with the channel token header and the resource plus
// sentTimestamp; failed deliveries are retried, also across a server restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { api, removeDir, startServer, tempDataDir, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ENV = {
  AUDEX_ALLOW_HTTP_WEBHOOKS: '1',
  AUDEX_WEBHOOK_BASE_DELAY_MS: '50',
  AUDEX_WEBHOOK_MAX_DELAY_MS: '200',
  AUDEX_TEST_EXPORT_DELAY_MS: '300',
};

interface Hit {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, any>;
  status: number;
}

/** A webhook receiver: records every POST; `failures[path]` makes that many answer 500 first. */
class Receiver {
  readonly hits: Hit[] = [];
  readonly failures = new Map<string, number>();
  private server!: Server;
  url = '';
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let data = '';
      req.on('data', (d: Buffer) => (data += d.toString()));
      req.on('end', () => {
        const path = req.url ?? '';
        const left = this.failures.get(path) ?? 0;
        const status = left > 0 ? 500 : 200;
        if (left > 0) this.failures.set(path, left - 1);
        this.hits.push({ path, headers: req.headers, body: JSON.parse(data) as Record<string, any>, status });
        res.writeHead(status).end(status === 200 ? 'ok' : 'try again');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  ok(path: string): Hit[] {
    return this.hits.filter((h) => h.path === path && h.status === 200);
  }
  all(path: string): Hit[] {
    return this.hits.filter((h) => h.path === path);
  }
  async waitFor(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}; hits: ${JSON.stringify(this.hits)}`);
      await sleep(25);
    }
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

async function createList(server: RunningServer, p: TestProperty, audience: string, webhook: unknown) {
  const r = await api(server, 'POST', `/v1alpha/${p.property}/audienceLists`, {
    audience,
    dimensions: [{ dimensionName: 'deviceId' }, { dimensionName: 'userId' }],
    webhookNotification: webhook,
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.response.name as string;
}

function withoutSent(b: Record<string, any>): Record<string, any> {
  const { sentTimestamp: _s, ...rest } = b;
  return rest;
}

describe('v1alpha webhook notifications', () => {
  const receiver = new Receiver();
  let server: RunningServer;
  let p: TestProperty;
  let audience: string;
  before(async () => {
    await receiver.start();
    server = await startServer({ dataDir: tempDataDir(), env: ENV });
    p = await createTestProperty(server);
    for (let i = 0; i < 5; i++)
      await sendMp(server, p, { client_id: `${i}.1`, user_id: `u${i}`, events: [{ name: 'purchase' }] });
    const list = (await api(server, 'GET', `/v1alpha/${p.property}/audiences`)).json.audiences as any[];
    audience = list.find((a) => a.displayName === 'Purchasers').name;
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
    await receiver.stop();
  });

  test('exactly two POSTs, CREATING then ACTIVE, with the channel token and sentTimestamp', async () => {
    const uri = `${receiver.url}/hook-a`;
    const before = Date.now() * 1000;
    const name = await createList(server, p, audience, { uri, channelToken: 'chan-tok-1' });
    await receiver.waitFor(() => receiver.ok('/hook-a').length >= 2, 'two notifications');
    await sleep(500); // nothing else may arrive
    const hits = receiver.all('/hook-a');
    assert.equal(hits.length, 2);
    assert.deepEqual(
      hits.map((h) => h.body.state),
      ['CREATING', 'ACTIVE'],
    );
    for (const h of hits) {
      assert.equal(h.headers['x-goog-channel-token'], 'chan-tok-1');
      assert.match(h.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(h.body.name, name);
      assert.deepEqual(h.body.webhookNotification, { uri, channelToken: 'chan-tok-1' });
      assert.equal(typeof h.body.sentTimestamp, 'string');
      const sent = Number(h.body.sentTimestamp);
      assert.ok(sent >= before && sent <= Date.now() * 1000 + 1000, `sentTimestamp in µs: ${sent}`);
    }
    // The final body is the resource as GetAudienceList shows it (enum names), plus sentTimestamp.
    const got = await api(server, 'GET', `/v1alpha/${name}`);
    assert.deepEqual(withoutSent(hits[1]!.body), got.json);
    assert.equal(hits[0]!.body.percentageCompleted, 0);

    const status = await api(server, 'GET', `/audex/v1/${name}/webhookDeliveries`);
    assert.equal(status.status, 200);
    assert.deepEqual(
      status.json.deliveries.map((d: any) => [d.state, d.attempts, d.uri]),
      [
        ['DELIVERED', 1, uri],
        ['DELIVERED', 1, uri],
      ],
    );
  });

  test('a receiver that fails twice gets the third delivery; order is kept', async () => {
    receiver.failures.set('/hook-b', 2);
    const name = await createList(server, p, audience, { uri: `${receiver.url}/hook-b` });
    await receiver.waitFor(() => receiver.ok('/hook-b').length >= 2, 'both notifications');
    const hits = receiver.all('/hook-b');
    assert.deepEqual(
      hits.map((h) => [h.status, h.body.state]),
      [
        [500, 'CREATING'],
        [500, 'CREATING'],
        [200, 'CREATING'],
        [200, 'ACTIVE'],
      ],
    );
    assert.equal(hits[0]!.headers['x-goog-channel-token'], undefined, 'no token, no header');
    const status = await api(server, 'GET', `/audex/v1/${name}/webhookDeliveries`);
    assert.deepEqual(
      status.json.deliveries.map((d: any) => [d.state, d.attempts]),
      [
        ['DELIVERED', 3],
        ['DELIVERED', 1],
      ],
    );
    assert.match(status.json.deliveries[0].lastError ?? 'none', /none/, 'a delivered one keeps no error');
  });

  test('a recurring list copies its webhook to the lists it makes', async () => {
    const r = await api(server, 'POST', `/v1alpha/${p.property}/recurringAudienceLists`, {
      audience,
      dimensions: [{ dimensionName: 'deviceId' }],
      webhookNotification: { uri: `${receiver.url}/hook-r`, channelToken: 'rec' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.audienceLists.length, 1);
    await receiver.waitFor(() => receiver.ok('/hook-r').length >= 2, 'the recurring list notifications');
    const hits = receiver.all('/hook-r');
    assert.deepEqual(
      hits.map((h) => [h.body.state, h.body.name, h.body.recurringAudienceList]),
      [
        ['CREATING', r.json.audienceLists[0], r.json.name],
        ['ACTIVE', r.json.audienceLists[0], r.json.name],
      ],
    );
    assert.equal(hits[0]!.headers['x-goog-channel-token'], 'rec');
  });

  test('a server restart between failed attempts still delivers', async () => {
    receiver.failures.set('/hook-c', 1_000_000);
    const name = await createList(server, p, audience, { uri: `${receiver.url}/hook-c`, channelToken: 't' });
    await receiver.waitFor(() => receiver.all('/hook-c').length >= 1, 'a first failed attempt');
    assert.equal(await server.stop(), 0);
    const failedBefore = receiver.all('/hook-c').length;
    server = await startServer({ dataDir: server.dataDir, env: ENV });
    await receiver.waitFor(() => receiver.all('/hook-c').length > failedBefore, 'a retry after the restart');
    receiver.failures.set('/hook-c', 0);
    await receiver.waitFor(() => receiver.ok('/hook-c').length >= 2, 'both notifications');
    const ok = receiver.ok('/hook-c');
    assert.deepEqual(
      ok.map((h) => h.body.state),
      ['CREATING', 'ACTIVE'],
    );
    assert.ok(ok.every((h) => h.body.name === name && h.headers['x-goog-channel-token'] === 't'));
    const status = await api(server, 'GET', `/audex/v1/${name}/webhookDeliveries`);
    assert.ok(status.json.deliveries.every((d: any) => d.state === 'DELIVERED'));
    assert.ok(status.json.deliveries[0].attempts > failedBefore);
  });
});
