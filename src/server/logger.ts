// The server's logs: pino, one JSON object per line on stderr, at the configured level
// (--log-level / AUDEX_LOG_LEVEL). Request logs come from requestLogger() below: method, route
// template, status, duration and property, and never a key (keys travel in headers and the `key`
// query parameter, neither of which is logged).
import pino from 'pino';
import type { Logger } from '../api/rest/http-server.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface AudexLogger extends Logger {
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  readonly pino: pino.Logger;
}

export function createLogger(
  level: LogLevel = 'info',
  stream: NodeJS.WritableStream = process.stderr,
): AudexLogger {
  const p = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Belt and braces: a field named like a credential never reaches the log.
      redact: {
        paths: ['key', 'apiKey', 'api_secret', 'authorization', '*.authorization'],
        censor: 'REDACTED',
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    stream as pino.DestinationStream,
  );
  return {
    pino: p,
    info: (msg, fields) => p.info(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
  };
}

/** Kept for callers of the old name: JSON logs on stderr; quiet drops info lines. */
export function jsonLogger(stream: NodeJS.WritableStream = process.stderr, quiet = false): AudexLogger {
  return createLogger(quiet ? 'error' : 'info', stream);
}

export const silentLogger: Logger = { info: () => {}, error: () => {} };

export interface RequestRecord {
  method: string;
  /** The route template that matched (e.g. /v1beta/{parent=properties/*}/audienceExports), or "unmatched". */
  route: string;
  status: number;
  durationMs: number;
  /** properties/P when the request names one. */
  property?: string;
}

/** One `info` line per request (`debug` for health checks and /metrics scrapes). */
export function requestLogger(log: Logger & { debug?: Logger['info'] }): (r: RequestRecord) => void {
  return (r) => {
    const fields = { ...r, durationMs: Math.round(r.durationMs * 10) / 10 };
    if (r.route === '/healthz' || r.route === '/livez' || r.route === '/metrics')
      log.debug?.('request', fields);
    else log.info('request', fields);
  };
}
