// Creates a property with a web stream and a Measurement Protocol secret through the public API.
import { api } from './server.ts';

export interface TestProperty {
  property: string;
  propertyId: number;
  stream: string;
  measurementId: string;
  secret: string;
}

export async function createTestProperty(server: { url: string }, timeZone = 'UTC'): Promise<TestProperty> {
  const property = (await api(server, 'POST', '/v1beta/properties', { displayName: 'Test shop', timeZone }))
    .json.name as string;
  const stream = (
    await api(server, 'POST', `/v1beta/${property}/dataStreams`, {
      type: 'WEB_DATA_STREAM',
      displayName: 'web',
    })
  ).json;
  const secret = (
    await api(server, 'POST', `/v1beta/${stream.name}/measurementProtocolSecrets`, { displayName: 's' })
  ).json;
  return {
    property,
    propertyId: Number(property.split('/')[1]),
    stream: stream.name,
    measurementId: stream.webStreamData.measurementId,
    secret: secret.secretValue,
  };
}

export async function sendMp(
  server: { url: string },
  p: TestProperty,
  body: unknown,
  opts: { debug?: boolean; secret?: string; measurementId?: string } = {},
): Promise<{ status: number; json: any }> {
  const path = opts.debug ? '/debug/mp/collect' : '/mp/collect';
  const qs = new URLSearchParams({
    measurement_id: opts.measurementId ?? p.measurementId,
    api_secret: opts.secret ?? p.secret,
  });
  const res = await fetch(`${server.url}${path}?${qs}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

export async function storedEvents(
  server: { url: string },
  p: TestProperty,
  userPseudoId?: string,
): Promise<any[]> {
  const qs = new URLSearchParams({ limit: '10000', ...(userPseudoId ? { userPseudoId } : {}) });
  return (await api(server, 'GET', `/audex/v1/${p.property}/events?${qs}`)).json.events;
}
