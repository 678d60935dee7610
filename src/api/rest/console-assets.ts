// Serves the console's page and its hashed assets from web/dist (built from web/src by
// web/build.mjs during `npm install`; built here on the first request if missing, e.g. after a
// `git pull` without `npm install`). The page gets a Content-Security-Policy that allows scripts
// and styles only from this origin: no inline script can run, whatever text data contains.

import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ServerResponse } from 'node:http';
import { errors } from '../../domain/errors.ts';
import { sendError } from './http-server.ts';

/**
 * The checkout's web/ folder: the nearest ancestor of this module that holds web/build.mjs. This
 * module runs from src/api/rest/ (tsx) or from a bundle chunk in dist/ (the compiled CLI).
 */
function findWebDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'web', 'build.mjs'))) return join(dir, 'web');
    if (dirname(dir) === dir) throw new Error(`no web/build.mjs above ${from}`);
  }
}

const WEB_DIR = findWebDir(import.meta.dirname);
const DIST = join(WEB_DIR, 'dist');

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
};

export function consoleAssets() {
  let built: Promise<void> | null = null;
  const ensureBuilt = () =>
    (built ??= existsSync(join(DIST, 'index.html'))
      ? Promise.resolve()
      : (import(pathToFileURL(join(WEB_DIR, 'build.mjs')).href) as Promise<{ build(): Promise<void> }>)
          .then((m) => m.build())
          .catch((err: unknown) => {
            built = null;
            throw err;
          }));

  return {
    async sendPage(res: ServerResponse): Promise<void> {
      await ensureBuilt();
      const html = await readFile(join(DIST, 'index.html'));
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': html.length,
        'content-security-policy': CONSOLE_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-cache',
      });
      res.end(html);
    },

    async sendAsset(res: ServerResponse, file: string): Promise<void> {
      const ext = /^[A-Za-z0-9_-]+\.(js|css|map)$/.exec(file)?.[1];
      if (!ext) return sendError(res, errors.notFound(`No asset ${file}.`));
      await ensureBuilt();
      let body: Buffer;
      try {
        body = await readFile(join(DIST, 'assets', file));
      } catch {
        return sendError(res, errors.notFound(`No asset ${file}.`));
      }
      res.writeHead(200, {
        'content-type': TYPES[ext]!,
        'content-length': body.length,
        'x-content-type-options': 'nosniff',
        // Names carry a content hash: a changed file has a new name.
        'cache-control': 'public, max-age=31536000, immutable',
      });
      res.end(body);
    },
  };
}
