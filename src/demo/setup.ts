// Seeds the demo through the public API with the operator key, exactly as a user would: creates the
// "Demo shop" property (web stream + Measurement Protocol secret), imports a synthetic history as
// GA4 BigQuery-export NDJSON (POST /audex/v1/properties/{p}:import), sends a few recent events with
// consent signals through /mp/collect, and creates the demo audiences (Admin API v1alpha).

import { Readable } from 'node:stream';
import { AudexClient, ApiClientError } from '../cli/client.ts';
import { DEMO_AUDIENCES } from './audiences.ts';
import { PRODUCTS, SHOP_HOST, ShopHistory, ndjsonChunks, prng } from './generate.ts';

export interface DemoOptions {
  url: string;
  key: string;
  /** µs; default now. */
  nowMicros?: bigint;
  seed?: number;
  devices?: number;
  days?: number;
  log?: (line: string) => void;
}

export interface DemoInfo {
  property: string;
  stream: string;
  measurementId: string;
  apiSecret: string;
  importedRows: number;
  mpEvents: number;
  audiences: { name: string; displayName: string }[];
}

export async function seedDemo(opts: DemoOptions): Promise<DemoInfo> {
  const log = opts.log ?? (() => {});
  const api = new AudexClient(opts.url, opts.key);
  const nowMicros = opts.nowMicros ?? BigInt(Date.now()) * 1000n;

  const property = (
    await api.call<{ name: string }>('POST', '/v1beta/properties', {
      parent: 'accounts/1',
      displayName: 'Demo shop',
      timeZone: 'Europe/Berlin',
      currencyCode: 'EUR',
      industryCategory: 'SHOPPING',
    })
  ).name;
  const stream = await api.call<{ name: string; webStreamData: { measurementId: string } }>(
    'POST',
    `/v1beta/${property}/dataStreams`,
    { type: 'WEB_DATA_STREAM', displayName: 'Demo shop web', webStreamData: { defaultUri: SHOP_HOST } },
  );
  const secret = await api.call<{ secretValue: string }>(
    'POST',
    `/v1beta/${stream.name}/measurementProtocolSecrets`,
    { displayName: 'demo server-side events' },
  );
  log(`created ${property} "Demo shop" with stream ${stream.name} (${stream.webStreamData.measurementId})`);

  // History: streamed to the import endpoint as it is generated (never held in memory at once).
  const started = Date.now();
  const history = new ShopHistory({
    nowMicros,
    streamId: stream.name.split('/').pop()!,
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.devices !== undefined ? { devices: opts.devices } : {}),
    ...(opts.days !== undefined ? { days: opts.days } : {}),
  });
  const body = Readable.from(ndjsonChunks(history.generate()));
  const res = await fetch(`${opts.url}/audex/v1/${property}:import`, {
    method: 'POST',
    headers: api.headers({ 'content-type': 'application/x-ndjson' }),
    body: Readable.toWeb(body) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  const imported = (await res.json()) as {
    importedRows?: number;
    rejectedRows?: number;
    errors?: { line?: number; message: string }[];
    error?: { status: string; message: string };
  };
  if (!res.ok || imported.error)
    throw new ApiClientError(
      res.status,
      imported.error?.status ?? String(res.status),
      imported.error?.message ?? 'import failed',
    );
  if ((imported.rejectedRows ?? 0) > 0)
    throw new Error(
      `the demo import rejected ${imported.rejectedRows} rows: ${JSON.stringify(imported.errors?.slice(0, 3))}`,
    );
  log(
    `imported ${imported.importedRows} events of ${history.devices.length} devices over the last ${opts.days ?? 35} days (${Date.now() - started} ms)`,
  );

  const mpEvents = await sendRecentTraffic(
    opts.url,
    stream.webStreamData.measurementId,
    secret.secretValue,
    history,
    nowMicros,
    opts.seed,
  );
  log(`sent ${mpEvents} recent events through /mp/collect`);

  const audiences: DemoInfo['audiences'] = [];
  for (const a of DEMO_AUDIENCES) {
    const created = await api.call<{ name: string; displayName: string }>(
      'POST',
      `/v1alpha/${property}/audiences`,
      a,
    );
    audiences.push({ name: created.name, displayName: created.displayName });
  }
  log(`created ${audiences.length} audiences`);
  return {
    property,
    stream: stream.name,
    measurementId: stream.webStreamData.measurementId,
    apiSecret: secret.secretValue,
    importedRows: imported.importedRows ?? 0,
    mpEvents,
    audiences,
  };
}

/**
 * The last half hour: some known devices come back (a few log in, a few add to cart) and some new
 * ones arrive, with explicit consent (ad_personalization GRANTED or DENIED, or none), through the
 * Measurement Protocol like a server-side tag would send them.
 */
async function sendRecentTraffic(
  url: string,
  measurementId: string,
  apiSecret: string,
  history: ShopHistory,
  nowMicros: bigint,
  seed = 7,
): Promise<number> {
  const rnd = prng(seed + 1);
  const qs = new URLSearchParams({ measurement_id: measurementId, api_secret: apiSecret });
  const nowMs = Number(nowMicros / 1000n);
  const visitors = history.devices.filter((_, i) => i % 25 === 0);
  for (let i = 0; i < 40; i++)
    visitors.push({
      ...history.devices[0]!,
      id: `${2_000_000_000 + Math.floor(rnd() * 999_999_999)}.${Math.floor(nowMs / 1000) - 1200}`,
      userId: null,
    });
  // Bodies first (deterministic), then sent on 4 connections.
  const bodies: { body: string; events: number }[] = [];
  for (const dev of visitors) {
    const start = nowMs - 30 * 60_000 + Math.floor(rnd() * 25 * 60_000);
    const sessionId = String(Math.floor(start / 1000));
    const product = PRODUCTS[Math.floor(rnd() * PRODUCTS.length)]!;
    const r = rnd();
    const consent =
      r < 0.45
        ? { ad_personalization: 'GRANTED', ad_user_data: 'GRANTED' }
        : r < 0.7
          ? { ad_personalization: 'DENIED', ad_user_data: 'DENIED' }
          : null;
    const page = (path: string, title: string) => ({
      page_location: SHOP_HOST + path,
      page_title: `${title} | Demo shop`,
      session_id: sessionId,
      engagement_time_msec: 100 + Math.floor(rnd() * 5000),
    });
    const productPath = `/p/${product.id.toLowerCase()}`;
    const item = {
      item_id: product.id,
      item_name: product.name,
      item_category: product.category,
      price: product.price,
      quantity: 1,
    };
    const ecommerce = () => ({
      ...page(productPath, product.name),
      currency: 'EUR',
      value: product.price,
      items: [item],
    });
    const events: { name: string; params: Record<string, unknown> }[] = [
      { name: 'page_view', params: page('/', 'Home') },
      { name: 'page_view', params: page(productPath, product.name) },
      { name: 'view_item', params: ecommerce() },
    ];
    if (rnd() < 0.35) events.push({ name: 'add_to_cart', params: ecommerce() });
    const body = {
      client_id: dev.id,
      ...(dev.userId && rnd() < 0.5 ? { user_id: dev.userId } : {}),
      ...(consent ? { consent } : {}),
      timestamp_micros: String(start * 1000),
      events,
    };
    bodies.push({ body: JSON.stringify(body), events: events.length });
  }
  let sent = 0;
  await Promise.all(
    [0, 1, 2, 3].map(async (lane) => {
      for (let i = lane; i < bodies.length; i += 4) {
        const res = await fetch(`${url}/mp/collect?${qs}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: bodies[i]!.body,
        });
        await res.arrayBuffer();
        if (res.status >= 300) throw new Error(`/mp/collect answered ${res.status}`);
        sent += bodies[i]!.events;
      }
    }),
  );
  return sent;
}
