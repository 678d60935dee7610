// One service layer, two transports. Every RPC audex implements is registered here once, by its
// proto full name, as a transport-free handler over proto3 JSON. The REST transport binds each one
// to the `google.api.http` rules of the official proto (transcoding path variables, body and query
// parameters into the request message); the gRPC transport decodes the binary request to the same
// JSON. So both transports run the very same code and answer the very same errors.

import type { Principal } from '../../auth/principal.ts';
import { errors } from '../../domain/errors.ts';
import type { RestApi } from '../rest/http-server.ts';
import { adminRoot, dataRoot, rpcMethods, SERVICES, type HttpRule, type RpcMethod } from './protos.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- request messages are checked field by field by the services
export type RpcRequest = Record<string, any>;
export type RpcHandler = (principal: Principal, request: RpcRequest) => Promise<unknown>;

export class RpcRegistry {
  readonly methods: Map<string, RpcMethod>;
  private readonly handlers = new Map<string, RpcHandler>();
  /** REST bindings beyond the proto's google.api.http rules (audex extensions), by full name. */
  private readonly extraRules = new Map<string, HttpRule[]>();

  constructor() {
    this.methods = new Map([
      ...rpcMethods(dataRoot, [...SERVICES.data]),
      ...rpcMethods(adminRoot, [...SERVICES.admin]),
    ]);
  }

  /** Registers a handler; the name must be a method of the loaded protos. */
  add(fullName: string, handler: RpcHandler): this {
    if (!this.methods.has(fullName)) throw new Error(`unknown RPC ${fullName}`);
    this.handlers.set(fullName, handler);
    return this;
  }

  /** Adds REST bindings to a method, beside its proto rules (for routes other clients expect). */
  addRest(fullName: string, rules: HttpRule[]): this {
    if (!this.methods.has(fullName)) throw new Error(`unknown RPC ${fullName}`);
    this.extraRules.set(fullName, [...(this.extraRules.get(fullName) ?? []), ...rules]);
    return this;
  }

  /** Runs `check` (which may throw an ApiError) before each of the named RPCs, in both transports. */
  guard(fullNames: string[], check: () => void): this {
    for (const name of fullNames) {
      const inner = this.handlers.get(name);
      if (!inner) throw new Error(`RPC ${name} is not registered`);
      this.handlers.set(name, async (p, r) => {
        check();
        return inner(p, r);
      });
    }
    return this;
  }

  handler(fullName: string): RpcHandler | undefined {
    return this.handlers.get(fullName);
  }

  implemented(): string[] {
    return [...this.handlers.keys()];
  }

  /** Binds every implemented RPC to its google.api.http rules on the REST transport. */
  bindRest(api: RestApi): void {
    for (const [name, handler] of this.handlers) {
      const method = this.methods.get(name)!;
      for (const rule of [...method.http, ...(this.extraRules.get(name) ?? [])]) {
        api.api(rule.method, rule.path, async (r) =>
          handler(r.principal, transcode(rule.body, r.params, r.query, r.body)),
        );
      }
    }
  }
}

const SYSTEM_PARAMS = new Set([
  '$alt',
  'alt',
  '$prettyPrint',
  'prettyPrint',
  '$fields',
  'fields',
  'key',
  'access_token',
  '$callback',
]);

function camel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function setPath(target: RpcRequest, dotted: string, value: unknown): void {
  const parts = dotted.split('.').map(camel);
  let obj = target;
  for (const part of parts.slice(0, -1)) {
    if (part === '__proto__' || part === 'constructor' || part === 'prototype') return;
    if (typeof obj[part] !== 'object' || obj[part] === null) obj[part] = {};
    obj = obj[part] as RpcRequest;
  }
  const last = parts[parts.length - 1]!;
  if (last === '__proto__' || last === 'constructor' || last === 'prototype') return;
  obj[last] = value;
}

/** google.api.http transcoding: the request message from path variables, body and query. */
export function transcode(
  bodyRule: string,
  params: Record<string, string>,
  query: URLSearchParams,
  body: unknown,
): RpcRequest {
  const request: RpcRequest = {};
  // The official REST client sends an empty message as the JSON string "" (e.g. an Audience whose
  // only field, its name, went into the URL, to clear event_trigger by updateMask); null is the
  // JSON form of an absent message. Both mean {}.
  if (body === '' || body === null) body = {};
  if (bodyRule === '*') {
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
      throw errors.invalidArgument('Invalid JSON payload: the request body must be a JSON object.');
    }
    Object.assign(request, body ?? {});
  } else if (bodyRule !== '') {
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
      throw errors.invalidField(bodyRule, 'the request body must be a JSON object.');
    }
    request[camel(bodyRule)] = body ?? {};
  }
  if (bodyRule !== '*') {
    for (const [key, value] of query) {
      if (SYSTEM_PARAMS.has(key)) continue;
      setPath(request, key, value);
    }
  }
  for (const [field, value] of Object.entries(params)) setPath(request, field, value);
  return request;
}
