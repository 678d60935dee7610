// The console's one HTTP client: the public API with the key as a Bearer header (never in a URL).
// The key lives in this tab's sessionStorage only; "Sign out" removes it.

const KEY = 'audex.apiKey';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  signIn: (key) => sessionStorage.setItem(KEY, key),
  signOut: () => sessionStorage.removeItem(KEY),
};

/** An API error: Google's envelope, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, code, message, violations = []) {
    super(message);
    this.status = status;
    this.code = code;
    /** google.rpc.BadRequest field violations: [{field, description}] (snake_case paths). */
    this.violations = violations;
  }
}

const listeners = new Set();
/** Called with every ApiError (the shell shows server-gone and sign-in problems once, globally). */
export function onApiError(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

async function send(method, path, body, { raw = false, key = session.key() } = {}) {
  const headers = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    const err = new ApiError(
      0,
      'UNAVAILABLE',
      'The audex server cannot be reached. It may have stopped or the network is down; the console retries when you act again.',
    );
    listeners.forEach((fn) => fn(err));
    throw err;
  }
  if (raw && res.ok) return res;
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = null;
  }
  if (!res.ok) {
    const e = json?.error;
    const violations = (e?.details ?? [])
      .filter((d) => String(d['@type']).endsWith('google.rpc.BadRequest'))
      .flatMap((d) => d.fieldViolations ?? []);
    const err = new ApiError(
      res.status,
      e?.status ?? `HTTP ${res.status}`,
      e?.message ?? text.slice(0, 300),
      violations,
    );
    listeners.forEach((fn) => fn(err));
    throw err;
  }
  return json;
}

export const api = {
  get: (path, opts) => send('GET', path, undefined, opts),
  post: (path, body = {}, opts) => send('POST', path, body, opts),
  patch: (path, body, opts) => send('PATCH', path, body, opts),
  del: (path, opts) => send('DELETE', path, undefined, opts),
  raw: (path, opts) => send('GET', path, undefined, { ...opts, raw: true }),
};

/** Every page of a Google list call, concatenated. */
export async function listAll(path, field) {
  const out = [];
  let token = '';
  for (let i = 0; i < 50; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api.get(
      `${path}${sep}pageSize=200${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`,
    );
    out.push(...(page[field] ?? []));
    token = page.nextPageToken ?? '';
    if (!token) break;
  }
  return out;
}
