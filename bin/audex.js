#!/usr/bin/env node
// Entry point: the compiled JavaScript in dist/ (built by `npm install`/`npm ci` through the
// `prepare` script, or `npm run build`). A clone whose dist/ is missing says how to build it.
import { existsSync } from 'node:fs';

const main = new URL('../dist/audex.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    'audex: dist/ is missing; run `npm run build` (or `npm install`) in the audex folder.\n',
  );
  process.exit(1);
}
await import(main.href);
