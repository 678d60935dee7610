// The gRPC transport: every method of the Data API (v1beta, v1alpha), the Admin API and
// google.longrunning.Operations is served; those audex implements run the same handlers as REST,
// the others answer UNIMPLEMENTED. Messages are decoded to proto3 JSON (the services' language) and
// errors carry the canonical code, the REST message and google.rpc.Status details.

import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ApiError, errors, toApiError } from '../../domain/errors.ts';
import { RawJson } from '../../domain/raw-json.ts';
import type { Principal } from '../../auth/principal.ts';
import type { KeyService } from '../../auth/keys.ts';
import type { Logger } from '../rest/http-server.ts';
import type { RpcRegistry } from '../rpc/registry.ts';
import { decodeToJson, encodeFromJson, hasInvalidUtf8, statusRoot } from '../rpc/protos.ts';

const StatusType = statusRoot.lookupType('google.rpc.Status');

function statusDetails(err: ApiError): Buffer | null {
  try {
    return Buffer.from(
      encodeFromJson(StatusType, { code: err.code, message: err.message, details: err.details as unknown[] }),
    );
  } catch {
    return null;
  }
}

function toServiceError(err: ApiError): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  const details = statusDetails(err);
  if (details) metadata.set('grpc-status-details-bin', details);
  return Object.assign(new Error(err.message), {
    code: err.code,
    details: err.message,
    metadata,
  });
}

/** Protobuf encoding needs objects: pre-rendered JSON (src/domain/raw-json.ts) is parsed back. */
function withoutRaw(value: unknown): unknown {
  if (value instanceof RawJson) {
    const parsed = value.toValue();
    value.release(); // parsed into new objects: the bytes are no longer needed
    return parsed;
  }
  if (Array.isArray(value)) return value.map(withoutRaw);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutRaw(v)]));
  }
  return value;
}

function keyFromMetadata(md: grpc.Metadata): string | null {
  const auth = md.get('authorization')[0];
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(auth.trim());
    if (m) return m[1]!;
  }
  const apiKey = md.get('x-goog-api-key')[0];
  return typeof apiKey === 'string' && apiKey.trim() !== '' ? apiKey.trim() : null;
}

export interface GrpcServerOptions {
  host: string;
  port: number;
  tls?: { cert: string; key: string };
}

export class GrpcTransport {
  private readonly server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });

  constructor(
    private readonly registry: RpcRegistry,
    private readonly keys: KeyService,
    private readonly log: Logger,
  ) {
    const byService = new Map<string, Record<string, grpc.MethodDefinition<unknown, unknown>>>();
    const impls = new Map<string, grpc.UntypedServiceImplementation>();
    for (const m of registry.methods.values()) {
      const serviceName = m.fullName.slice(0, m.fullName.lastIndexOf('.'));
      if (!byService.has(serviceName)) {
        byService.set(serviceName, {});
        impls.set(serviceName, {});
      }
      byService.get(serviceName)![m.method.name] = {
        path: m.grpcPath,
        requestStream: false,
        responseStream: false,
        requestSerialize: (v: unknown) => Buffer.from(encodeFromJson(m.requestType, v)),
        requestDeserialize: (b: Buffer) => decodeToJson(m.requestType, b),
        responseSerialize: (v: unknown) => Buffer.from(encodeFromJson(m.responseType, v)),
        responseDeserialize: (b: Buffer) => decodeToJson(m.responseType, b),
      };
      impls.get(serviceName)![m.method.name] = this.unary(m.fullName);
    }
    for (const [name, def] of byService) this.server.addService(def, impls.get(name)!);
  }

  private unary(fullName: string): grpc.handleUnaryCall<Record<string, unknown>, unknown> {
    return (call, callback) => {
      const handler = this.registry.handler(fullName);
      const run = async () => {
        if (!handler) throw errors.unimplemented(`${fullName} is not implemented by audex.`);
        const principal = await this.authenticate(call.metadata);
        if (hasInvalidUtf8(call.request))
          throw errors.invalidArgument('Invalid request: a string field is not valid UTF-8.');
        return handler(principal, call.request);
      };
      run().then(
        (result) => callback(null, withoutRaw(result ?? {})),
        (err: unknown) => {
          if (!(err instanceof ApiError))
            this.log.error('grpc internal error', { rpc: fullName, err: String(err) });
          callback(toServiceError(toApiError(err)));
        },
      );
    };
  }

  private async authenticate(md: grpc.Metadata): Promise<Principal> {
    const key = keyFromMetadata(md);
    if (!key) throw errors.unauthenticated();
    const principal = await this.keys.authenticate(key);
    if (!principal) throw errors.apiKeyInvalid();
    return principal;
  }

  /** Binds and starts; resolves to the bound port. */
  async listen(opts: GrpcServerOptions): Promise<number> {
    const creds = opts.tls
      ? grpc.ServerCredentials.createSsl(null, [
          { cert_chain: readFileSync(opts.tls.cert), private_key: readFileSync(opts.tls.key) },
        ])
      : grpc.ServerCredentials.createInsecure();
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${opts.host}:${opts.port}`, creds, (err, port) =>
        err ? reject(err) : resolve(port),
      );
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.server.forceShutdown(), 5_000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
