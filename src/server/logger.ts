// One-line JSON logs on stderr. The logger takes no config (injected where needed).
import type { Logger } from '../api/rest/http-server.ts';

export function jsonLogger(stream: NodeJS.WritableStream = process.stderr, quiet = false): Logger {
  const write = (level: string, msg: string, fields?: Record<string, unknown>) => {
    if (quiet && level === 'info') return;
    stream.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n');
  };
  return {
    info: (msg, fields) => write('info', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}

export const silentLogger: Logger = { info: () => {}, error: () => {} };
