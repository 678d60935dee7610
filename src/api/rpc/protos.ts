// The official protos, loaded from the npm packages that ship them (never copied into the repo):
// the Data API (v1beta, v1alpha, google.longrunning) from @google-analytics/data, the Admin API
// from @google-analytics/admin, and google.rpc error details from google-gax.

import { isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import { fromProto3JSON, toProto3JSON, type JSONObject } from 'proto3-json-serializer';

const require = createRequire(import.meta.url);

function loadRoot(jsonPath: string): protobuf.Root {
  return protobuf.Root.fromJSON(require(jsonPath) as protobuf.INamespace);
}

const gaxDir = join(dirname(require.resolve('google-gax')), '..', '..');

/** Root holding the Data API, google.longrunning and google.rpc.Status. */
export const dataRoot = loadRoot('@google-analytics/data/build/protos/protos.json');
/** Root holding the Admin API (v1alpha and v1beta). */
export const adminRoot = loadRoot('@google-analytics/admin/build/protos/protos.json');
/** google.rpc.Status and the error details (BadRequest, ErrorInfo, QuotaFailure…). */
export const statusRoot = loadRoot(join(gaxDir, 'build', 'protos', 'status.json'));

export interface HttpRule {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';
  path: string;
  /** '' (no body), '*' (the whole request), or a top-level field name (snake_case). */
  body: string;
}

export interface RpcMethod {
  /** e.g. google.analytics.data.v1beta.BetaAnalyticsData.GetAudienceExport */
  fullName: string;
  /** e.g. /google.analytics.data.v1beta.BetaAnalyticsData/GetAudienceExport */
  grpcPath: string;
  service: protobuf.Service;
  method: protobuf.Method;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
  http: HttpRule[];
}

function httpRules(method: protobuf.Method): HttpRule[] {
  const rules: HttpRule[] = [];
  const collect = (rule: Record<string, unknown> | undefined) => {
    if (!rule) return;
    for (const verb of ['get', 'post', 'patch', 'delete', 'put'] as const) {
      const path = rule[verb];
      if (typeof path === 'string') {
        rules.push({
          method: verb.toUpperCase() as HttpRule['method'],
          path,
          body: typeof rule.body === 'string' ? rule.body : '',
        });
      }
    }
    const extra = rule.additional_bindings ?? rule.additionalBindings;
    for (const b of Array.isArray(extra) ? extra : extra ? [extra] : [])
      collect(b as Record<string, unknown>);
  };
  for (const opt of method.parsedOptions ?? [])
    collect((opt as Record<string, Record<string, unknown>>)['(google.api.http)']);
  return rules;
}

/** Every unary method of the given services, keyed by full name. */
export function rpcMethods(root: protobuf.Root, serviceNames: string[]): Map<string, RpcMethod> {
  const out = new Map<string, RpcMethod>();
  for (const serviceName of serviceNames) {
    const service = root.lookupService(serviceName);
    for (const method of service.methodsArray) {
      method.resolve();
      if (method.requestStream || method.responseStream) continue;
      const fullName = `${serviceName}.${method.name}`;
      out.set(fullName, {
        fullName,
        grpcPath: `/${serviceName}/${method.name}`,
        service,
        method,
        requestType: method.resolvedRequestType!,
        responseType: method.resolvedResponseType!,
        http: httpRules(method),
      });
    }
  }
  return out;
}

/** Bytes on the wire to the proto3 JSON form the services speak (and back). */
/** Requests (decoded by decodeToJson) that had a string field of invalid UTF-8. */
const invalidUtf8 = new WeakSet<object>();

export function hasInvalidUtf8(request: unknown): boolean {
  return typeof request === 'object' && request !== null && invalidUtf8.has(request);
}

/**
 * Binary to proto3 JSON. proto3 strings must be valid UTF-8; protobufjs would decode bad bytes to
 * U+FFFD, so string fields are checked as they are read and the request is marked (the transport
 * answers INVALID_ARGUMENT; a throw here would become INTERNAL in grpc-js).
 */
export function decodeToJson(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
  const reader = protobuf.Reader.create(bytes);
  let bad = false;
  const readBytes = reader.bytes.bind(reader);
  reader.string = () => {
    const b = readBytes();
    if (!isUtf8(b)) bad = true;
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  };
  const json = (toProto3JSON(type.decode(reader), { numericEnums: false }) ?? {}) as Record<string, unknown>;
  if (bad) invalidUtf8.add(json);
  return json;
}

export function encodeFromJson(type: protobuf.Type, json: unknown): Uint8Array {
  const message = fromProto3JSON(type, json as JSONObject);
  return type.encode(message ?? type.create()).finish();
}

export const SERVICES = {
  data: [
    'google.analytics.data.v1beta.BetaAnalyticsData',
    'google.analytics.data.v1alpha.AlphaAnalyticsData',
    'google.longrunning.Operations',
  ],
  admin: [
    'google.analytics.admin.v1alpha.AnalyticsAdminService',
    'google.analytics.admin.v1beta.AnalyticsAdminService',
  ],
} as const;
