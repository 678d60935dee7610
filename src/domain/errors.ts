// The one place for every API error: canonical google.rpc.Code, its HTTP status, and the
// google.rpc.Status details. REST and gRPC both render errors from ApiError.

import { isStorageError } from '../storage/errors.ts';

export const RPC_CODES = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type RpcStatus = keyof typeof RPC_CODES;

const HTTP_STATUS: Record<RpcStatus, number> = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
};

export interface FieldViolation {
  /** Path of the offending field, e.g. `filter_clauses[0].simple_filter.scope`. */
  field: string;
  description: string;
}

/** A google.protobuf.Any in proto3 JSON form. */
export type ErrorDetail = { '@type': string } & Record<string, unknown>;

export class ApiError extends Error {
  readonly status: RpcStatus;
  readonly details: ErrorDetail[];

  constructor(status: RpcStatus, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.details = details;
  }

  get code(): number {
    return RPC_CODES[this.status];
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.status];
  }

  /** The AIP-193 JSON envelope. */
  toJSON(): { error: { code: number; message: string; status: RpcStatus; details?: ErrorDetail[] } } {
    return {
      error: {
        code: this.httpStatus,
        message: this.message,
        status: this.status,
        ...(this.details.length > 0 ? { details: this.details } : {}),
      },
    };
  }
}

// Google puts its credential and permission reasons (CREDENTIALS_MISSING, API_KEY_INVALID,
// ACCESS_DENIED) under this domain; clients that branch on err.domain see the value they expect.
const DOMAIN = 'googleapis.com';

export function errorInfo(reason: string, metadata: Record<string, string> = {}): ErrorDetail {
  return { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: DOMAIN, metadata };
}

export function badRequest(violations: FieldViolation[]): ErrorDetail {
  return { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: violations };
}

export const errors = {
  invalidArgument(message: string, violations: FieldViolation[] = []): ApiError {
    return new ApiError('INVALID_ARGUMENT', message, violations.length > 0 ? [badRequest(violations)] : []);
  },
  /** One violation; the message names the field so a user can act on it. */
  invalidField(field: string, description: string): ApiError {
    return new ApiError('INVALID_ARGUMENT', `${field}: ${description}`, [
      badRequest([{ field, description }]),
    ]);
  },
  /** No credentials at all (no key in a header or `?key=`). */
  unauthenticated(message = 'Request is missing a valid API key.'): ApiError {
    return new ApiError('UNAUTHENTICATED', message, [errorInfo('CREDENTIALS_MISSING')]);
  },
  /** A key was given but is unknown or revoked (Google's reason for a bad API key). */
  apiKeyInvalid(message = 'API key not valid. Please pass a valid API key.'): ApiError {
    return new ApiError('UNAUTHENTICATED', message, [errorInfo('API_KEY_INVALID')]);
  },
  permissionDenied(message = 'User does not have sufficient permissions for this property.'): ApiError {
    return new ApiError('PERMISSION_DENIED', message, [errorInfo('ACCESS_DENIED')]);
  },
  notFound(message: string): ApiError {
    return new ApiError('NOT_FOUND', message);
  },
  failedPrecondition(message: string): ApiError {
    return new ApiError('FAILED_PRECONDITION', message);
  },
  alreadyExists(message: string): ApiError {
    return new ApiError('ALREADY_EXISTS', message);
  },
  resourceExhausted(message: string, quota?: string): ApiError {
    return new ApiError(
      'RESOURCE_EXHAUSTED',
      message,
      quota
        ? [
            {
              '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
              violations: [{ subject: quota, description: message }],
            },
          ]
        : [],
    );
  },
  unimplemented(message: string): ApiError {
    return new ApiError('UNIMPLEMENTED', message);
  },
  internal(message = 'Internal error.'): ApiError {
    return new ApiError('INTERNAL', message);
  },
  unavailable(message: string): ApiError {
    return new ApiError('UNAVAILABLE', message);
  },
};

/**
 * An engine or OS message fit for a client: every absolute path (quoted, or one of `paths`, such as
 * the data folder) becomes `placeholder`, so an answer never tells a client where the server keeps
 * its files.
 */
export function withoutPaths(message: string, paths: string[], placeholder = '<file>'): string {
  let out = message;
  for (const p of paths) if (p.length > 1) out = out.split(p).join(placeholder);
  // Quoted absolute paths (POSIX or Windows drive) the engine put in its text.
  return out.replace(/(['"])(?:\/|[A-Za-z]:\\)[^'"]*\1/g, placeholder);
}

/** Seconds a client should wait before retrying an UNAVAILABLE answer (REST `Retry-After`). */
export const RETRY_AFTER_SECONDS = 5;

/**
 * Any thrown value as an ApiError. Storage failures say what happened without the engine's text
 * (it can name server paths): an outage or a full disk is UNAVAILABLE (retriable: the same call
 * may succeed later), a memory limit RESOURCE_EXHAUSTED; every other unknown failure becomes
 * INTERNAL (never UNKNOWN, which clients retry).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (isStorageError(err)) {
    switch (err.kind) {
      case 'unavailable':
        return errors.unavailable('The event store is temporarily unavailable; retry later.');
      case 'disk_full':
        return errors.unavailable('The server is out of disk space; retry later.');
      case 'memory_limit':
        return errors.resourceExhausted(
          'The request needed more memory than the server may use (AUDEX_MEMORY_LIMIT); retry later or ask for less.',
        );
      default:
        return errors.internal();
    }
  }
  const code = (err as NodeJS.ErrnoException | null)?.code;
  // The OS (a spooled upload) or the SQLite catalog (SQLITE_FULL) out of disk space.
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL')
    return errors.unavailable('The server is out of disk space; retry later.');
  return errors.internal();
}
