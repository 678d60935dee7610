// Bundles the console (web/src) into web/dist with esbuild: content-hashed asset names under
// web/dist/assets and an index.html that loads them. Runs on `npm install` (postinstall) and, if
// web/dist is missing, on the server's first request for the page. Nothing here is committed.
import * as esbuild from 'esbuild';
import { mkdir, rm, writeFile, rename } from 'node:fs/promises';
import { join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = fileURLToPath(new URL('.', import.meta.url));

export async function build() {
  const out = join(WEB, `dist.tmp-${process.pid}`);
  await rm(out, { recursive: true, force: true });
  const result = await esbuild.build({
    entryPoints: [join(WEB, 'src', 'main.js')],
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'esm',
    target: 'es2020',
    outdir: join(out, 'assets'),
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
  const js = outputs.find((f) => f.endsWith('.js'));
  const css = outputs.find((f) => f.endsWith('.css'));
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>audex console</title>
${css ? `<link rel="stylesheet" href="/console/assets/${css}">` : ''}
<script type="module" src="/console/assets/${js}"></script>
</head>
<body><div id="app"></div></body>
</html>
`;
  await writeFile(join(out, 'index.html'), html);
  await mkdir(out, { recursive: true });
  // Replace web/dist in one step, so a running server never sees half a build.
  const dist = join(WEB, 'dist');
  const old = join(WEB, `dist.old-${process.pid}`);
  await rename(dist, old).catch(() => undefined);
  await rename(out, dist);
  await rm(old, { recursive: true, force: true });
  return { js, css };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { js, css } = await build();
  console.log(`console built: web/dist/assets/${js}${css ? `, ${css}` : ''}`);
}
