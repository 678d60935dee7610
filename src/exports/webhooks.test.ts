import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { CatalogDb } from '../catalog/db.ts';
import { forEachCatalog, type CatalogSlot } from '../../test/helpers/catalogs.ts';
import { ApiError } from '../domain/errors.ts';
import { nowMicros } from '../domain/time.ts';
import { validateWebhook, WebhookOutbox, type WebhookOutboxOptions } from './webhooks.ts';

// ---------------------------------------------------------------------------------------------
// A local receiver: each request takes the next scripted behaviour (default 200).

type Behaviour = number | 'hang';
interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  at: bigint;
}

class Receiver {
  readonly received: Received[] = [];
  private readonly script = new Map<string, Behaviour[]>();
  private readonly hung: ServerResponse[] = [];
  private server!: Server;
  url = '';

  /** Behaviours for requests whose body is for `name#state`, else `name`, else '*' (any). */
  plan(name: string, ...b: Behaviour[]): void {
    this.script.set(name, [...(this.script.get(name) ?? []), ...b]);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        this.received.push({
          method: req.method!,
          path: req.url!,
          headers: req.headers,
          body,
          at: nowMicros(),
        });
        const q = [`${String(body.name)}#${String(body.state)}`, String(body.name), '*']
          .map((k) => this.script.get(k))
          .find((x) => x !== undefined && x.length > 0);
        const b = q?.shift() ?? 200;
        if (b === 'hang') {
          this.hung.push(res);
          return;
        }
        res.writeHead(b, { 'content-type': 'text/plain' });
        res.end(b >= 300 ? `receiver says ${b}` : 'ok');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no address');
    this.url = `http://127.0.0.1:${addr.port}/hook`;
  }

  forName(name: string): Received[] {
    return this.received.filter((r) => r.body.name === name);
  }

  async close(): Promise<void> {
    for (const r of this.hung) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

async function until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function logger() {
  const errors: { msg: string; fields?: Record<string, unknown> }[] = [];
  return {
    errors,
    info: () => undefined,
    error: (msg: string, fields?: Record<string, unknown>) => errors.push({ msg, fields }),
  };
}

const FAST: WebhookOutboxOptions = {
  // Not too short: the first fetch() of a process loads undici, and the receiver shares this loop.
  timeoutMs: 2000,
  baseDelayMs: 10,
  maxDelayMs: 40,
  pollMs: 50,
  leaseMs: 5000,
};

function listJson(name: string, state: string): Record<string, unknown> {
  return {
    name,
    audience: 'properties/1/audiences/2',
    audienceDisplayName: 'All users',
    dimensions: [{ dimensionName: 'deviceId' }],
    state,
    beginCreatingTime: '2024-06-01T00:00:00.000000Z',
    creationQuotaTokensCharged: 1,
    percentageCompleted: state === 'ACTIVE' ? 100 : 0,
  };
}

// ---------------------------------------------------------------------------------------------

describe('validateWebhook', () => {
  const ok = (input: unknown, allowHttp = false) => validateWebhook(input, { allowHttp });
  const bad = (input: unknown, field: RegExp, allowHttp = false) =>
    assert.throws(
      () => validateWebhook(input, { allowHttp }),
      (e: unknown) => e instanceof ApiError && e.status === 'INVALID_ARGUMENT' && field.test(e.message),
    );

  test('absent webhook is undefined; valid ones come back normalized', () => {
    assert.equal(ok(undefined), undefined);
    assert.equal(ok(null), undefined);
    assert.deepEqual(ok({ uri: 'https://example.com/hook' }), { uri: 'https://example.com/hook' });
    assert.deepEqual(ok({ uri: 'https://example.com/h?a=1&b=%2F', channelToken: 'tok-1' }), {
      uri: 'https://example.com/h?a=1&b=%2F',
      channelToken: 'tok-1',
    });
    assert.deepEqual(ok({ uri: 'https://example.com/', channel_token: 't' }), {
      uri: 'https://example.com/',
      channelToken: 't',
    });
    assert.deepEqual(ok({ uri: 'https://example.com/', channelToken: '' }), { uri: 'https://example.com/' });
  });

  test('http is refused unless allowed', () => {
    bad({ uri: 'http://127.0.0.1:8080/hook' }, /^webhook_notification\.uri: must be an https:\/\/ URL/);
    assert.deepEqual(ok({ uri: 'http://127.0.0.1:8080/hook' }, true), { uri: 'http://127.0.0.1:8080/hook' });
    bad({ uri: 'ftp://example.com/x' }, /webhook_notification\.uri: must be an https:\/\/ or http/, true);
  });

  test('length limits', () => {
    const base = 'https://example.com/';
    const uri128 = base + 'a'.repeat(128 - base.length);
    assert.equal(ok({ uri: uri128 })?.uri, uri128);
    bad({ uri: uri128 + 'a' }, /webhook_notification\.uri: must be at most 128 characters \(got 129\)/);
    assert.equal(ok({ uri: base, channelToken: 'x'.repeat(64) })?.channelToken?.length, 64);
    bad(
      { uri: base, channelToken: 'x'.repeat(65) },
      /webhook_notification\.channel_token: must be at most 64/,
    );
  });

  test('characters, shape and credentials', () => {
    for (const uri of [
      'https://example.com/a b',
      'https://example.com/~user',
      'https://example.com/#frag',
      'https://example.com/é',
      'https://example.com/%zz',
      'https://example.com/%2',
      'https://[::1]/hook',
      'https://example.com/a\\b',
    ])
      bad({ uri }, /webhook_notification\.uri: contains characters RFC 1738/);
    bad({ uri: 'https:example.com' }, /webhook_notification\.uri: must be an absolute URL/);
    bad({ uri: 'example.com/hook' }, /webhook_notification\.uri: must be an absolute URL/);
    bad({ uri: 'https://user:pw@example.com/' }, /webhook_notification\.uri: must not contain credentials/);
    bad({ uri: 'https://user@example.com/' }, /webhook_notification\.uri: must not contain credentials/);
    bad({}, /webhook_notification\.uri: is required/);
    bad({ channelToken: 'x' }, /webhook_notification\.uri: is required/);
    bad({ uri: 5 }, /webhook_notification\.uri: must be a string/);
    bad({ uri: 'https://e.com/', channelToken: 5 }, /webhook_notification\.channel_token: must be a string/);
    bad(
      { uri: 'https://e.com/', channelToken: 'a\nb' },
      /webhook_notification\.channel_token: must contain only/,
    );
    bad({ uri: 'https://e.com/', extra: 1 }, /webhook_notification\.extra: is not a field/);
    bad('https://e.com/', /^webhook_notification: must be an object/);
    assert.throws(
      () => validateWebhook({ uri: 'x' }, { allowHttp: false, field: 'audience_list.webhook_notification' }),
      /audience_list\.webhook_notification\.uri/,
    );
  });
});

forEachCatalog((catalog) =>
  describe('WebhookOutbox', () => {
    let slot: CatalogSlot;
    let db: CatalogDb;
    let rx: Receiver;
    before(async () => {
      slot = await catalog.create();
      db = await slot.open();
      rx = new Receiver();
      await rx.start();
    });
    after(async () => {
      await rx.close();
      await db.destroy();
      slot.dispose();
    });

    test('POSTs the resource JSON plus sentTimestamp with the documented headers', async () => {
      const log = logger();
      const outbox = new WebhookOutbox(db, nowMicros, log, FAST);
      outbox.start();
      const name = 'properties/1/audienceLists/1';
      const t0 = nowMicros();
      const id = await outbox.enqueue({
        resource: name,
        uri: rx.url,
        channelToken: 'secret-1',
        body: listJson(name, 'CREATING'),
      });
      const name2 = 'properties/1/audienceLists/2';
      await outbox.enqueue({ resource: name2, uri: rx.url + '?x=1', body: listJson(name2, 'ACTIVE') });
      await until('two deliveries', async () => (await outbox.status(name2))[0]?.state === 'DELIVERED');
      await until('delivered', async () => (await outbox.status(name))[0]?.state === 'DELIVERED');
      await outbox.stop();

      const [r] = rx.forName(name);
      assert.ok(r);
      assert.equal(r.method, 'POST');
      assert.equal(r.path, '/hook');
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['x-goog-channel-token'], 'secret-1');
      const { sentTimestamp, ...rest } = r.body;
      assert.deepEqual(rest, listJson(name, 'CREATING'));
      assert.equal(typeof sentTimestamp, 'string');
      assert.match(sentTimestamp as string, /^\d{16}$/);
      const sent = BigInt(sentTimestamp as string);
      assert.ok(sent >= t0 && sent <= r.at, 'sentTimestamp is µs at send time');

      const [r2] = rx.forName(name2);
      assert.equal(r2?.path, '/hook?x=1');
      assert.equal(r2?.headers['x-goog-channel-token'], undefined, 'no token header without a token');

      const [st] = await outbox.status(name);
      assert.equal(st?.id, id);
      assert.equal(st?.uri, rx.url);
      assert.equal(st?.attempts, 1);
      assert.equal(st?.lastError, undefined);
      assert.match(st?.deliveredTime ?? '', /^\d{4}-\d\d-\d\dT.*Z$/);
      assert.ok(st?.lastAttemptTime);
      assert.equal(rx.forName(name).length, 1, 'exactly one POST');
      assert.deepEqual(log.errors, []);
    });

    test('retries after a 500 and a hang past the timeout; the third attempt arrives', async () => {
      const outbox = new WebhookOutbox(db, nowMicros, logger(), { ...FAST, timeoutMs: 500 });
      const name = 'properties/1/audienceLists/10';
      rx.plan(name, 500, 'hang', 200);
      outbox.start();
      await outbox.enqueue({ resource: name, uri: rx.url, body: listJson(name, 'ACTIVE') });
      await until(
        'delivered after retries',
        async () => (await outbox.status(name))[0]?.state === 'DELIVERED',
      );
      await outbox.stop();
      const got = rx.forName(name);
      assert.equal(got.length, 3);
      const stamps = got.map((g) => BigInt(g.body.sentTimestamp as string));
      assert.ok(stamps[0]! < stamps[1]! && stamps[1]! < stamps[2]!, 'sentTimestamp is set at each attempt');
      assert.ok(stamps[2]! - stamps[1]! >= 500_000n, 'the hang lasted the timeout');
      const [st] = await outbox.status(name);
      assert.equal(st?.attempts, 3);
    });

    test('a restart (new outbox over a new catalog handle) delivers what the first left pending', async () => {
      const name = 'properties/1/audienceLists/20';
      rx.plan(name, 503, 200);
      // The retry is due 1.5 s after the 503 (no jitter): long enough that the first outbox is
      // stopped before it, even on a loaded machine, short enough for the second to send it soon.
      const first = new WebhookOutbox(db, nowMicros, logger(), {
        ...FAST,
        baseDelayMs: 1500,
        maxDelayMs: 1500,
        random: () => 1,
      });
      first.start();
      await first.enqueue({ resource: name, uri: rx.url, channelToken: 't', body: listJson(name, 'ACTIVE') });
      await until('first attempt recorded', async () => {
        const [s] = await first.status(name);
        return s?.attempts === 1 && s.lastError !== undefined && s.nextAttemptTime !== undefined;
      });
      await first.stop();
      const [pending] = await first.status(name);
      assert.equal(pending?.state, 'PENDING');
      assert.match(pending?.lastError ?? '', /^HTTP 503 Service Unavailable: receiver says 503$/);

      const db2 = await slot.open();
      try {
        const second = new WebhookOutbox(db2, nowMicros, logger(), FAST);
        second.start();
        await until(
          'delivered by the second instance',
          async () => (await second.status(name))[0]?.state === 'DELIVERED',
        );
        await second.stop();
        assert.equal(rx.forName(name).length, 2);
        assert.equal(rx.forName(name)[1]?.headers['x-goog-channel-token'], 't');
      } finally {
        await db2.destroy();
      }
    });

    test('a delivery leased by a dead process is sent again once the lease lapses', async () => {
      const name = 'properties/1/audienceLists/25';
      const outbox = new WebhookOutbox(db, nowMicros, logger(), FAST);
      const id = await outbox.enqueue({ resource: name, uri: rx.url, body: listJson(name, 'ACTIVE') });
      const lapse = Number(nowMicros()) + 150_000;
      await db
        .updateTable('webhook_deliveries')
        .set({ lease_owner: 'dead', lease_expires: lapse, attempts: 1 })
        .where('id', '=', id)
        .execute();
      outbox.start();
      await until('delivered after lapse', async () => (await outbox.status(name))[0]?.state === 'DELIVERED');
      await outbox.stop();
      assert.ok(rx.forName(name)[0]!.at >= BigInt(lapse), 'not sent while the lease was held');
      assert.equal((await outbox.status(name))[0]?.attempts, 2);
    });

    test('gives up after the bounded time: FAILED, error logged and visible', async () => {
      const name = 'properties/1/audienceLists/30';
      rx.plan(name, ...Array<Behaviour>(1000).fill(500));
      const log = logger();
      const outbox = new WebhookOutbox(db, nowMicros, log, { ...FAST, giveUpAfterMs: 250 });
      const t0 = Date.now();
      outbox.start();
      await outbox.enqueue({ resource: name, uri: rx.url, body: listJson(name, 'ACTIVE') });
      await until('failed', async () => (await outbox.status(name))[0]?.state === 'FAILED');
      await outbox.stop();
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 250 && elapsed < 2000, `gave up after ${elapsed} ms`);
      const [st] = await outbox.status(name);
      assert.match(st?.lastError ?? '', /^HTTP 500/);
      assert.ok((st?.attempts ?? 0) >= 2);
      assert.equal(st?.attempts, rx.forName(name).length);
      assert.equal(st?.deliveredTime, undefined);
      assert.equal(st?.nextAttemptTime, undefined);
      const e = log.errors.find((x) => x.fields?.id === st?.id);
      assert.match(String(e?.fields?.error), /^HTTP 500/);
      assert.equal(e?.fields?.uri, rx.url);
    });

    test('gives up after maxAttempts; network errors are reported', async () => {
      const name = 'properties/1/audienceLists/31';
      const outbox = new WebhookOutbox(db, nowMicros, logger(), { ...FAST, maxAttempts: 2 });
      outbox.start();
      // A port nobody listens on: connection refused.
      const closed = new Receiver();
      await closed.start();
      const deadUrl = closed.url;
      await closed.close();
      await outbox.enqueue({ resource: name, uri: deadUrl, body: listJson(name, 'ACTIVE') });
      await until('failed', async () => (await outbox.status(name))[0]?.state === 'FAILED');
      await outbox.stop();
      const [st] = await outbox.status(name);
      assert.equal(st?.attempts, 2);
      assert.match(st?.lastError ?? '', /ECONNREFUSED/);
    });

    test('a redirect is not followed and counts as a failure', async () => {
      const name = 'properties/1/audienceLists/32';
      rx.plan(name, 302, 200);
      const outbox = new WebhookOutbox(db, nowMicros, logger(), FAST);
      outbox.start();
      await outbox.enqueue({ resource: name, uri: rx.url, body: listJson(name, 'ACTIVE') });
      await until('delivered', async () => (await outbox.status(name))[0]?.state === 'DELIVERED');
      await outbox.stop();
      assert.equal(rx.forName(name).length, 2);
    });

    test('deliveries of one resource go in order; others are not held back', async () => {
      const a = 'properties/1/audienceLists/40';
      const b = 'properties/1/audienceLists/41';
      rx.plan(`${a}#CREATING`, 500, 'hang');
      const outbox = new WebhookOutbox(db, nowMicros, logger(), { ...FAST, timeoutMs: 500 });
      // All three are queued before the outbox starts: started first, it could claim a's CREATING
      // and retry it while b was still being enqueued (a slow catalog, e.g. PostgreSQL in CI),
      // which says nothing about whether b is held back.
      await outbox.enqueue({ resource: a, uri: rx.url, body: listJson(a, 'CREATING') });
      await outbox.enqueue({ resource: a, uri: rx.url, body: listJson(a, 'ACTIVE') });
      await outbox.enqueue({ resource: b, uri: rx.url, body: listJson(b, 'CREATING') });
      outbox.start();
      await until('all delivered', async () => {
        const s = [...(await outbox.status(a)), ...(await outbox.status(b))];
        return s.length === 3 && s.every((x) => x.state === 'DELIVERED');
      });
      await outbox.stop();
      const states = rx.forName(a).map((r) => r.body.state);
      // The 500 and the hang reached the receiver too; ACTIVE came only after CREATING succeeded.
      assert.deepEqual(states, ['CREATING', 'CREATING', 'CREATING', 'ACTIVE']);
      const [creating, active] = await outbox.status(a);
      assert.equal(creating?.attempts, 3);
      assert.equal(active?.attempts, 1);
      assert.ok(rx.forName(b)[0]!.at < rx.forName(a)[1]!.at, 'the other resource was not held back');
      assert.ok(
        Date.parse(active.lastAttemptTime!) >= Date.parse(creating.deliveredTime!),
        'ACTIVE sent only after CREATING was delivered',
      );
    });

    test('two outboxes over two catalog handles never send one attempt twice', async () => {
      const db2 = await slot.open();
      try {
        // Generous timeout: the receiver shares this event loop with two synchronous SQLite handles.
        const opts = { ...FAST, timeoutMs: 5000, leaseMs: 20_000, concurrency: 4 };
        const o1 = new WebhookOutbox(db, nowMicros, logger(), opts);
        const o2 = new WebhookOutbox(db2, nowMicros, logger(), opts);
        const names = Array.from({ length: 40 }, (_, i) => `properties/2/audienceLists/${i + 1}`);
        o1.start();
        o2.start();
        await Promise.all(
          names.map((n, i) =>
            (i % 2 ? o1 : o2).enqueue({ resource: n, uri: rx.url, body: listJson(n, 'ACTIVE') }),
          ),
        );
        await until('all delivered', async () => {
          const s = await Promise.all(names.map((n) => o1.status(n)));
          return s.every((x) => x[0]?.state === 'DELIVERED');
        });
        await Promise.all([o1.stop(), o2.stop()]);
        for (const n of names)
          assert.equal(rx.forName(n).length, 1, `${n} sent once: ${JSON.stringify(await o1.status(n))}`);
        const owners = await db
          .selectFrom('webhook_deliveries')
          .select('id')
          .where('resource', 'like', 'properties/2/%')
          .where('attempts', '!=', 1)
          .execute();
        assert.deepEqual(owners, []);
      } finally {
        await db2.destroy();
      }
    });
  }),
);
