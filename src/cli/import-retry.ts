// Retries of `audex import`, kept apart from the command itself so any CLI front end can call it.
// An import is safe to send again because it carries an importId (the server never stores the
// same id twice and answers a repeat with the first result), so on a lost connection, a server
// that is restarting, or an UNAVAILABLE / ABORTED answer the whole file is simply sent again,
// after a doubling pause. Rejected input (4xx other than those) is never retried.

import { randomUUID } from 'node:crypto';
import { ApiClientError } from './client.ts';

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET']);

export interface RetryOptions {
  /** Sends after the first one. Default 8 (about 2 minutes of pauses in all). */
  retries?: number;
  /** First pause; doubles each time, capped at 30 s. Default 1 s. */
  baseDelayMs?: number;
  /** Told before each pause (the CLI prints it on stderr). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** A fresh importId for one `audex import` run (every retry of the run reuses it). */
export function newImportId(): string {
  return randomUUID();
}

/** Whether sending the same import again may succeed: the server, not the file, was the trouble. */
export function isRetriableImportFailure(err: unknown): boolean {
  if (err instanceof ApiClientError) {
    // 503 UNAVAILABLE (restarting, full disk), 409 ABORTED (a twin still running), 429 (memory),
    // 502/504 from a proxy in front of audex.
    return [409, 429, 502, 503, 504].includes(err.httpStatus);
  }
  // fetch's network failures (reset, refused while the server restarts, closed mid-upload) are
  // TypeError('fetch failed'); a stream that broke mid-upload carries the socket's errno.
  return err instanceof TypeError || NETWORK_CODES.has(String((err as NodeJS.ErrnoException | null)?.code));
}

export async function withImportRetries<T>(send: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const retries = options.retries ?? 8;
  const base = options.baseDelayMs ?? 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (attempt > retries || !isRetriableImportFailure(err)) throw err;
      const delayMs = Math.min(30_000, base * 2 ** (attempt - 1));
      options.onRetry?.(err, attempt, delayMs);
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
