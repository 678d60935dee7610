// `audex exports …` end to end: `audex serve` started like a user starts it, events sent through
// /mp/collect, and the CLI run as a separate process. Downloads (CSV, NDJSON, Parquet read back
// with DuckDB) must hold exactly the rows that :query pages return.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';
import { runCli } from './helpers/cli.ts';
import { readParquetRows, parquetSchema } from '../src/storage/duckdb/parquet-file.ts';

const DIMS = ['deviceId', 'userId', 'isAdsPersonalizationAllowed'];

/** One RFC 4180 record: fields quoted when they hold a comma, a quote, CR or LF; CRLF ends it. */
function csvLine(values: string[]): string {
  return values.map((v) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v)).join(',') + '\r\n';
}

/** Requests counted by /metrics for each route template whose name contains `fragment`. */
async function requestsTo(server: RunningServer, fragment: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    const m = /^audex_http_requests_total\{[^}]*route="([^"]*)"[^}]*\} (\d+)$/.exec(line);
    if (m && m[1]!.includes(fragment)) n += Number(m[2]);
  }
  return n;
}

/** A strict RFC 4180 reader (CRLF records, quoted fields with doubled quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
      } else {
        field += c;
        i++;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
      i++;
    } else if (c === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
    } else {
      assert.notEqual(c, '\n', 'a bare LF outside quotes is not RFC 4180');
      field += c;
      i++;
    }
  }
  assert.equal(field, '', 'the last record ends with CRLF');
  assert.equal(row.length, 0);
  return rows;
}

describe('audex exports (CLI)', () => {
  let server: RunningServer;
  let p: TestProperty;
  let audience: string;
  let exportName: string;
  let work: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, env);

  /** Every row of an export through :query, as arrays of values in dimension order. */
  async function apiRows(name: string): Promise<string[][]> {
    const r = await api(server, 'POST', `/v1beta/${name}:query`, { limit: '250000' });
    assert.equal(r.status, 200);
    return r.json.audienceRows.map((row: any) => row.dimensionValues.map((v: any) => v.value ?? ''));
  }

  before(async () => {
    server = await startServer({ env: { AUDEX_TEST_EXPORT_DELAY_MS: '600' } });
    env = { AUDEX_SERVER: server.url, AUDEX_KEY: ADMIN_KEY };
    work = mkdtempSync(join(tmpdir(), 'audex-cli-exports-'));
    p = await createTestProperty(server);
    const base = BigInt(Date.now() - 3_600_000) * 1000n;
    // 45 devices; user ids with characters CSV must quote; consent granted/denied/absent.
    const userIds = ['plain', 'with,comma', 'with "quotes"', 'multi\nline', ' padded '];
    for (let i = 0; i < 45; i++) {
      const r = await sendMp(server, p, {
        client_id: `${100000 + i * 7919}.${1700000000 + i}`,
        ...(i % 3 === 0 ? { user_id: `${userIds[(i / 3) % userIds.length]}-${i}` } : {}),
        ...(i % 4 === 1 ? { consent: { ad_personalization: 'GRANTED' } } : {}),
        ...(i % 4 === 2 ? { consent: { ad_personalization: 'DENIED' } } : {}),
        timestamp_micros: (base + BigInt(i) * 1_000_000n).toString(),
        events: [{ name: i % 2 ? 'purchase' : 'page_view', params: { value: i, currency: 'EUR' } }],
      });
      assert.equal(r.status, 204);
    }
    const list = (await api(server, 'GET', `/v1alpha/${p.property}/audiences`)).json.audiences as any[];
    audience = list.find((a) => a.displayName === 'All Users').name;
  });

  after(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('create --wait prints the name, shows progress and ends ACTIVE', async () => {
    const r = await cli(
      'exports',
      'create',
      '--property',
      p.property,
      '--audience',
      audience,
      '--dimensions',
      DIMS.join(','),
      '--wait',
    );
    assert.equal(r.code, 0, r.stderr);
    exportName = r.stdout.trim();
    assert.match(exportName, new RegExp(`^${p.property}/audienceExports/\\d+$`));
    assert.match(r.stderr, /creating .*: \d+%/);
    // The job's phases (src/exports/phases.ts), each line once, ending with done.
    assert.match(r.stderr, /creating .*: 100% done \(\d+\.\d s\)/);
    assert.match(r.stderr, /is ACTIVE with 45 rows/);
  });

  test('create without --wait returns at once; --json gives the Operation', async () => {
    const r = await cli('exports', 'create', '--audience', audience, '--json');
    assert.equal(r.code, 0, r.stderr);
    const op = JSON.parse(r.stdout);
    assert.equal(op.response.audience, audience);
    assert.deepEqual(op.response.dimensions, [{ dimensionName: 'deviceId' }]);
    assert.equal(op.done, false);
  });

  test('get: a table by default, the AudienceExport with --json', async () => {
    const r = await cli('exports', 'get', exportName);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^state\s+ACTIVE$/m);
    assert.match(r.stdout, /^rowCount\s+45$/m);
    assert.match(r.stdout, new RegExp(`^dimensions\\s+${DIMS.join(',')}$`, 'm'));
    const j = await cli('exports', 'get', exportName, '--json');
    const e = JSON.parse(j.stdout);
    assert.equal(e.name, exportName);
    assert.equal(e.state, 'ACTIVE');
    assert.equal(e.rowCount, 45);
  });

  test('list follows nextPageToken through every page', async () => {
    const r = await cli('exports', 'list', '--property', p.property, '--page-size', '1', '--json');
    assert.equal(r.code, 0, r.stderr);
    const names = (JSON.parse(r.stdout).audienceExports as any[]).map((e) => e.name);
    const direct = (await api(server, 'GET', `/v1beta/${p.property}/audienceExports?pageSize=1000`)).json;
    assert.ok(names.length >= 2);
    assert.deepEqual(
      names,
      direct.audienceExports.map((e: any) => e.name),
    );
    const t = await cli('exports', 'list', '--property', p.property);
    assert.match(t.stdout, /^NAME\s+AUDIENCE\s+DISPLAY NAME\s+DIMENSIONS\s+STATE\s+ROWS\s+CREATED$/m);
    assert.match(
      t.stdout,
      new RegExp(`^${exportName}\\s+${audience}\\s+All Users\\s+${DIMS.join(',')}\\s+ACTIVE\\s+45\\s`, 'm'),
    );
  });

  test('query: a table whose columns are the dimensions; --json is the :query response', async () => {
    const all = await apiRows(exportName);
    assert.equal(all.length, 45);
    const r = await cli('exports', 'query', exportName, '--offset', '3', '--limit', '4');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^deviceId\s+userId\s+isAdsPersonalizationAllowed$/);
    assert.equal(lines.length, 5);
    all.slice(3, 7).forEach((row, i) => assert.ok(lines[i + 1]!.startsWith(row[0]!), lines[i + 1]));
    assert.match(r.stderr, /rows 4-7 of 45/);
    const j = await cli('exports', 'query', exportName, '--offset', '3', '--limit', '4', '--json');
    const direct = await api(server, 'POST', `/v1beta/${exportName}:query`, { offset: '3', limit: '4' });
    assert.deepEqual(JSON.parse(j.stdout), direct.json);
  });

  for (const format of ['csv', 'ndjson', 'parquet'] as const) {
    test(`download --format ${format} streams the server's download endpoint`, async () => {
      const expected = await apiRows(exportName);
      const out = join(work, `all.${format}`);
      const [queriesBefore, downloadsBefore] = [
        await requestsTo(server, ':query'),
        await requestsTo(server, ':download'),
      ];
      const r = await cli('exports', 'download', exportName, '--format', format, '--out', out, '--json');
      assert.equal(r.code, 0, r.stderr);
      const res = JSON.parse(r.stdout);
      assert.equal(res.rowsWritten, 45);
      assert.equal(res.rowCount, 45);
      assert.deepEqual(res.dimensions, DIMS);
      assert.equal(res.bytes, statSync(out).size);
      // One request to GET …:download, none to :query: the CLI writes the server's bytes.
      assert.equal((await requestsTo(server, ':download')) - downloadsBefore, 1);
      assert.equal((await requestsTo(server, ':query')) - queriesBefore, 0);
      const direct = await fetch(`${server.url}/audex/v1/${exportName}:download?format=${format}`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      assert.equal(direct.status, 200);
      if (format !== 'parquet') assert.deepEqual(readFileSync(out), Buffer.from(await direct.arrayBuffer()));
      assert.match(r.stderr, /downloading .*: 100%/);
      let got: string[][];
      if (format === 'csv') {
        const text = readFileSync(out, 'utf8');
        const rows = parseCsv(text);
        assert.deepEqual(rows[0], DIMS);
        got = rows.slice(1);
        assert.equal(text, [DIMS, ...expected].map(csvLine).join(''));
      } else if (format === 'ndjson') {
        const lines = readFileSync(out, 'utf8').split('\n');
        assert.equal(lines.pop(), '');
        got = lines.map((l) => {
          const o = JSON.parse(l);
          assert.deepEqual(Object.keys(o), DIMS);
          return DIMS.map((d) => o[d]);
        });
      } else {
        assert.deepEqual(
          await parquetSchema(out),
          DIMS.map((name) => ({ name, type: 'VARCHAR' })),
        );
        got = (await readParquetRows(out)).map((o) => DIMS.map((d) => o[d]!));
      }
      assert.deepEqual(got, expected);
      // Quoting was really exercised.
      assert.ok(expected.some((row) => row[1]!.includes('"')));
      assert.ok(expected.some((row) => row[1]!.includes('\n')));
      // No temporary files are left beside the output.
      assert.deepEqual(
        readdirSync(work).filter((f) => f.startsWith('.')),
        [],
      );
    });
  }

  test('errors: unknown export → exit 1 with NOT_FOUND; bad usage → exit 2', async () => {
    const missing = `${p.property}/audienceExports/99999`;
    const g = await cli('exports', 'get', missing);
    assert.equal(g.code, 1);
    assert.match(g.stderr, /NOT_FOUND/);
    const q = await cli('exports', 'query', missing);
    assert.equal(q.code, 1);
    assert.match(q.stderr, /NOT_FOUND/);
    const out = join(work, 'missing.csv');
    const d = await cli('exports', 'download', missing, '--format', 'csv', '--out', out);
    assert.equal(d.code, 1);
    assert.match(d.stderr, /NOT_FOUND/);
    assert.throws(() => readFileSync(out));
    const noDir = await cli(
      'exports',
      'download',
      exportName,
      '--format',
      'csv',
      '--out',
      join(work, 'no', 'x.csv'),
    );
    assert.equal(noDir.code, 1);
    assert.match(noDir.stderr, /audex: ENOENT: cannot write .*x\.csv/);
    const u = await cli('exports', 'download', exportName, '--format', 'xlsx', '--out', out);
    assert.equal(u.code, 2);
    assert.match(
      u.stderr,
      /'--format <format>' argument 'xlsx' is invalid\. must be one of csv\|ndjson\|parquet/,
    );
    const bad = await cli('exports', 'create', '--audience', audience, '--dimensions', 'city');
    assert.equal(bad.code, 2);
    const noKey = await runCli(['exports', 'list', '--property', p.property], {
      AUDEX_SERVER: server.url,
      AUDEX_KEY: '',
    });
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /UNAUTHENTICATED/);
  });
});
