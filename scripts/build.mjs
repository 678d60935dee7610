#!/usr/bin/env node
// Compiles the CLI and server (src/, TypeScript) into dist/ with esbuild, so `audex` starts on
// plain JavaScript; `npm install` / `npm ci` run it (the `prepare` script), and so do `npm start`
// and `npm test`, so dist/ never lags the sources. Packages stay external (node_modules).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

const started = Date.now();
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: {
    audex: new URL('../src/cli/main.ts', import.meta.url).pathname,
    // The NDJSON import's worker threads load this file (src/storage/duckdb/ndjson-workers.ts).
    'ndjson-worker': new URL('../src/storage/duckdb/ndjson-worker.ts', import.meta.url).pathname,
    // Measurement Protocol collection's worker threads (src/storage/duckdb/mp-workers.ts).
    'mp-worker': new URL('../src/storage/duckdb/mp-worker.ts', import.meta.url).pathname,
  },
  outdir: new URL('../dist', import.meta.url).pathname,
  bundle: true,
  splitting: true, // `audex --help` and the client commands load none of the server's modules
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
if (!process.argv.includes('--quiet')) console.error(`audex: built dist/ in ${Date.now() - started} ms`);
