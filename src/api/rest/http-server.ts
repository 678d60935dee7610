// The REST transport: google.api.http routes over node:http, Google's JSON mapping ($alt with
// enum-encoding=int), the AIP-193 error envelope, and API-key authentication. Handlers are
// transport-free service calls; raw routes (collection endpoints, file import) get the streams.

import { jsonChunks, type RawJson } from '../../domain/raw-json.ts';
import { isUtf8 } from 'node:buffer';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ApiError, RETRY_AFTER_SECONDS, errors, toApiError } from '../../domain/errors.ts';
import type { Principal } from '../../auth/principal.ts';
import { invalidUnicodeError } from '../../domain/unicode.ts';
import type { KeyService } from '../../auth/keys.ts';
import { numericEnums } from './enums.ts';
import { Router } from './router.ts';

export interface ApiRequest {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  principal: Principal;
  headers: IncomingMessage['headers'];
}

export type ApiHandler = (req: ApiRequest) => Promise<unknown>;

/** A route that handles the raw request itself (its own auth, body and response). */
export type RawHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: { params: Record<string, string>; query: URLSearchParams; authenticate: () => Promise<Principal> },
) => Promise<void>;

type Route = ({ kind: 'api'; handler: ApiHandler } | { kind: 'raw'; handler: RawHandler }) & {
  template: string;
};

/** What a finished request reports to logs and metrics (src/server/logger.ts, metrics.ts); no key. */
export type RequestObserver = (r: {
  method: string;
  route: string;
  status: number;
  durationMs: number;
  property?: string;
}) => void;

/** The route template and property of each request being dispatched, for the observer. */
const routeOf = new WeakMap<IncomingMessage, { route: string; property?: string }>();

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export class RestApi {
  private readonly router = new Router<Route>();

  constructor(
    private readonly keys: KeyService,
    private readonly log: Logger,
    private readonly maxBodyBytes: number,
    private readonly observe?: RequestObserver,
  ) {}

  api(method: string, template: string, handler: ApiHandler): this {
    this.router.add(method, template, { kind: 'api', handler, template });
    return this;
  }

  raw(method: string, template: string, handler: RawHandler): this {
    this.router.add(method, template, { kind: 'raw', handler, template });
    return this;
  }

  /**
   * Slow clients: headers must arrive within headersTimeoutMs and the whole request within
   * requestTimeoutMs (Node answers 408 and closes), checked every second (Node's default check
   * runs every 30 s, so a slow-header client held its socket ~90 s). At most maxConnections
   * sockets are open; more are closed as they connect.
   */
  createServer(
    limits: { headersTimeoutMs: number; requestTimeoutMs: number; maxConnections: number } = {
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 15 * 60_000,
      maxConnections: 4096,
    },
  ): Server {
    const options = {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    };
    const server = createServer(options, (req, res) => {
      if (this.observe) {
        const started = performance.now();
        res.once('close', () => {
          const r = routeOf.get(req);
          this.observe!({
            method: req.method ?? 'GET',
            route: r?.route ?? 'unmatched',
            status: res.statusCode,
            durationMs: performance.now() - started,
            ...(r?.property ? { property: r.property } : {}),
          });
        });
      }
      this.dispatch(req, res).catch((err: unknown) => {
        this.log.error('request failed', { err: String(err), url: redactUrl(req.url ?? '/') });
        if (!res.headersSent) sendError(res, toApiError(err));
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 65_000;
    server.maxConnections = limits.maxConnections;
    return server;
  }

  async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const numeric = wantsNumericEnums(url.searchParams);
    const path = decodePath(url.pathname);
    const match = path === null ? null : this.router.match(req.method ?? 'GET', path);
    if (match === null) {
      req.resume();
      return sendError(res, errors.notFound(`No route for ${req.method} ${url.pathname}.`));
    }
    if (match === 'method-not-allowed') {
      req.resume();
      return sendError(
        res,
        new ApiError('UNIMPLEMENTED', `${req.method} is not supported on ${url.pathname}.`),
      );
    }
    const authenticate = () => this.authenticate(req, url.searchParams);
    const route = match.handler;
    const property = Object.values(match.params)
      .map((v) => /^properties\/\d+/.exec(v ?? '')?.[0])
      .find(Boolean);
    routeOf.set(req, { route: route.template, ...(property ? { property } : {}) });
    if (route.kind === 'raw') {
      await route.handler(req, res, { params: match.params, query: url.searchParams, authenticate });
      return;
    }
    try {
      const principal = await authenticate();
      const body = await readJsonBody(req, this.maxBodyBytes);
      const result = await route.handler({
        params: match.params,
        query: url.searchParams,
        body,
        principal,
        headers: req.headers,
      });
      sendJson(res, 200, numeric ? numericEnums(result) : result);
    } catch (err) {
      if (!(err instanceof ApiError))
        this.log.error('internal error', { err: String(err), stack: (err as Error)?.stack });
      sendError(res, toApiError(err));
    }
  }

  private async authenticate(req: IncomingMessage, query: URLSearchParams): Promise<Principal> {
    const key = extractKey(req.headers, query);
    if (!key) throw errors.unauthenticated();
    const principal = await this.keys.authenticate(key);
    if (!principal) throw errors.apiKeyInvalid();
    return principal;
  }
}

/**
 * `Authorization: Bearer <key>` or `X-Goog-Api-Key: <key>` (as the official clients send them), else
 * the `key` query parameter (Google's `?key=` style). The first one present wins.
 */
export function extractKey(headers: IncomingMessage['headers'], query?: URLSearchParams): string | null {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(auth.trim());
    if (m) return m[1]!;
  }
  const apiKey = headers['x-goog-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim() !== '') return apiKey.trim();
  const param = query?.get('key')?.trim();
  if (param) return param;
  return null;
}

/** Query parameters that carry credentials; their values never reach a log. */
const SECRET_PARAMS = ['key', 'api_secret'];

/** The request URL with credential parameters (`key`, `api_secret`) blanked out, for logs. */
export function redactUrl(rawUrl: string): string {
  const q = rawUrl.indexOf('?');
  if (q < 0) return rawUrl;
  const parts = rawUrl
    .slice(q + 1)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      let name = eq < 0 ? part : part.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // an undecodable name is kept as it is
      }
      return SECRET_PARAMS.includes(name) ? `${part.slice(0, eq < 0 ? part.length : eq)}=REDACTED` : part;
    });
  return `${rawUrl.slice(0, q)}?${parts.join('&')}`;
}

function wantsNumericEnums(query: URLSearchParams): boolean {
  const alt = query.get('$alt') ?? query.get('alt');
  return alt !== null && /enum-encoding=int/.test(alt);
}

function decodePath(p: string): string | null {
  try {
    return decodeURIComponent(p);
  } catch {
    return null;
  }
}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    throw errors.invalidArgument(`Request body exceeds ${limit} bytes.`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw errors.invalidArgument(`Request body exceeds ${limit} bytes.`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  if (req.method === 'GET' || req.method === 'DELETE') {
    req.resume();
    return undefined;
  }
  const buf = await readBody(req, limit);
  if (buf.length === 0) return {};
  // Decoding would silently turn invalid bytes into U+FFFD and store them: refuse instead.
  if (!isUtf8(buf))
    throw errors.invalidArgument('Invalid JSON payload received: the body is not valid UTF-8.');
  let body: unknown;
  try {
    body = JSON.parse(buf.toString('utf8'));
  } catch {
    throw errors.invalidArgument('Invalid JSON payload received: the request body is not valid JSON.');
  }
  const unicode = invalidUnicodeError(body);
  if (unicode) throw unicode;
  return body;
}

/**
 * Writes body as JSON. Pre-rendered RawJson bytes (a query page) go to the socket as they are,
 * between the text before and after them: a 17 MB page is never turned into a JS string.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const raws: RawJson[] = [];
  const chunks = jsonChunks(body ?? {}, raws);
  let length = 0;
  for (const c of chunks) length += typeof c === 'string' ? Buffer.byteLength(c) : c.length;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': length,
  });
  if (chunks.length === 1) {
    res.end(chunks[0]);
    return;
  }
  for (const c of chunks) res.write(c);
  // Pooled page bytes are reused only once handed to the OS ('finish'); never after an abort.
  res.end(() => {
    for (const r of raws) r.release();
  });
}

/** Google's error envelope; an UNAVAILABLE answer (503) tells the client when to retry. */
export function sendError(res: ServerResponse, err: ApiError): void {
  if (err.status === 'UNAVAILABLE') res.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
  sendJson(res, err.httpStatus, err.toJSON());
}
