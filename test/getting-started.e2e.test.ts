// docs/getting-started.md cannot rot: its `sh` blocks run in order in one bash (curl, then the CLI
// through `npx audex`), and its `js` block runs with Node against the same server, exactly as
// written in the file. The expected rows are the ones the document says.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_KEY, removeDir, startServer, type RunningServer } from './helpers/server.ts';

const ROOT = join(import.meta.dirname, '..');
const DOC = readFileSync(join(ROOT, 'docs', 'getting-started.md'), 'utf8');

/** The fenced blocks of a language, in order. */
export function blocks(markdown: string, lang: string): string[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)]
    .filter((m) => m[1] === lang)
    .map((m) => m[2]!);
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const proc = spawn(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('docs/getting-started.md', () => {
  let server: RunningServer;
  let work: string;
  let env: Record<string, string>;
  let shell: { code: number | null; stdout: string; stderr: string };

  before(async () => {
    server = await startServer();
    // Inside the clone (an ignored folder), so `npx audex` finds the project and the js block
    // resolves the official clients from its node_modules.
    mkdirSync(join(ROOT, '.tmp'), { recursive: true });
    work = mkdtempSync(join(ROOT, '.tmp', 'getting-started-'));
    env = { AUDEX_SERVER: server.url, AUDEX_KEY: ADMIN_KEY, METADATA_SERVER_DETECTION: 'none' };
    const script = [
      'set -euo pipefail',
      ...blocks(DOC, 'sh'),
      'echo "__ENV PROPERTY=$PROPERTY"',
      'echo "__ENV AUDIENCE=$AUDIENCE"',
    ].join('\n');
    shell = await run('bash', ['-c', script], work, env);
  });

  after(async () => {
    await server?.stop();
    removeDir(server.dataDir);
    rmSync(work, { recursive: true, force: true });
  });

  test('the document has the steps: shell blocks for curl and the CLI, one official-client block', () => {
    const sh = blocks(DOC, 'sh').join('\n');
    for (const step of [
      '/v1beta/properties',
      '/dataStreams',
      '/measurementProtocolSecrets',
      '/mp/collect',
      '/audiences',
      '/audienceExports',
      ':query',
    ])
      assert.ok(sh.includes(step), `curl step ${step}`);
    for (const cmd of [
      'properties create',
      'streams create',
      'secrets create',
      'audiences create',
      'exports create',
      'exports query',
      'exports download',
    ])
      assert.ok(sh.includes(`npx audex ${cmd}`), `CLI step ${cmd}`);
    assert.equal(blocks(DOC, 'js').length, 1);
  });

  test('the curl steps run and the export has the row the document promises', () => {
    assert.equal(shell.code, 0, `${shell.stdout}\n${shell.stderr}`);
    assert.match(shell.stdout, /^properties\/\d+$/m);
    assert.match(shell.stdout, /^properties\/\d+\/dataStreams\/\d+ G-[A-Z0-9]{10}$/m);
    assert.match(shell.stdout, /^204\n204$/m);
    assert.match(shell.stdout, /^properties\/\d+\/audienceExports\/\d+ is ACTIVE$/m);
    const query = shell.stdout.split('\n').find((l) => l.startsWith('{"audienceExport"'));
    assert.ok(query, shell.stdout);
    const res = JSON.parse(query) as {
      rowCount: number;
      audienceRows: { dimensionValues: { value: string }[] }[];
    };
    assert.equal(res.rowCount, 1);
    assert.deepEqual(
      res.audienceRows[0]!.dimensionValues.map((v) => v.value),
      ['visitor.1', ''],
    );
  });

  test('the CLI steps run: the query prints visitor.3 and the CSV holds it', () => {
    assert.match(shell.stdout, /^deviceId\s+userId\nvisitor\.3$/m);
    assert.match(shell.stderr, /creating .*: 100% done/);
    assert.equal(
      readFileSync(join(work, 'cart-abandoners.csv'), 'utf8'),
      'deviceId,userId\r\nvisitor.3,\r\n',
    );
  });

  test('the official-client block runs as written and prints the rows the document says', async () => {
    const vars = Object.fromEntries(
      [...shell.stdout.matchAll(/^__ENV (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    assert.match(vars.PROPERTY ?? '', /^properties\/\d+$/);
    writeFileSync(join(work, 'first-export.mjs'), blocks(DOC, 'js')[0]!);
    const r = await run(process.execPath, ['first-export.mjs'], work, { ...env, ...vars });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'audience: Cart abandoners (7 days)\nrows: visitor.1\n');
  });
});
