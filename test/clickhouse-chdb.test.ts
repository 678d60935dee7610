// The ClickHouse dialect's golden SQL (src/audience/compile/golden/clickhouse/) on a current
// ClickHouse, in process through the `chdb` package (ClickHouse 26.7), next to Debian's 18.16 and
// DuckDB: the same tables (the engine's DDL), the same events (every worked example's history,
// encoded as the ClickHouse event store writes them), and each golden statement must return the
// same members on 26.7 as on 18.16 and as DuckDB's golden statement of the same construct.
// A golden on the hybrid plan (item leaves, what the planner folds) has no statement to run.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Session } from 'chdb';
import type { StoredEvent } from '../src/domain/event.ts';
import { encodeEventLine } from '../src/storage/clickhouse/codec.ts';
import { eventsTableDdl } from '../src/storage/clickhouse/schema.ts';
import { chText } from '../src/storage/clickhouse/connection.ts';
import { DuckDbExecutor } from '../src/storage/duckdb/executor.ts';
import { EXAMPLE_HISTORIES } from './helpers/example-histories.ts';
import { resetSeq } from './helpers/audience-events.ts';
import { insertEvents, openTestDb } from './audience-duckdb.helpers.ts';
import { sharedClickHouse, type ClickHouseServer } from './helpers/clickhouse-server.ts';

const GOLDEN = new URL('../src/audience/compile/golden/', import.meta.url);

interface Golden {
  plan: string;
  sql: string;
  parameters: unknown[];
}

function readGolden(dialect: string, name: string): Golden {
  const text = readFileSync(new URL(`${dialect}/${name}`, GOLDEN), 'utf8');
  const first = text.indexOf('\n');
  const head = /^-- (\w+)(?:[: ].*?parameters: (.*))?/.exec(text.slice(0, first))!;
  const parameters = head[2]
    ? (JSON.parse(head[2]) as unknown[]).map((v) =>
        typeof v === 'string' && /^-?\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v,
      )
    : [];
  return { plan: head[1]!, sql: text.slice(first + 1).trim(), parameters };
}

/** Every example's history, with distinct ingest_seq (users of different examples mix: more cases). */
function events(): StoredEvent[] {
  resetSeq();
  return Object.values(EXAMPLE_HISTORIES).flatMap((h) => h());
}

const names = readdirSync(new URL('clickhouse/', GOLDEN)).filter((n) => n.endsWith('.sql'));

describe('ClickHouse golden SQL on chdb (ClickHouse 26.7), 18.16 and DuckDB', () => {
  let chdb: Session;
  let server: ClickHouseServer;
  let duck: Awaited<ReturnType<typeof openTestDb>>;
  const database = `audex_golden_${process.pid}`;
  const history = events();

  before(async () => {
    const lines = history.map((e) => encodeEventLine(e, e.ingest_seq)).join('');
    chdb = new Session();
    chdb.query(chText(eventsTableDdl('default', 'events')));
    chdb.query(`INSERT INTO default.events FORMAT JSONEachRow\n${lines}`);
    server = await sharedClickHouse();
    const url = server.nodes[0]!.httpUrl;
    const post = async (query: string, body?: string) => {
      const res = await fetch(`${url}/?query=${encodeURIComponent(query)}`, { method: 'POST', body });
      assert.equal(res.status, 200, await res.clone().text());
      return res.text();
    };
    await post(`CREATE DATABASE IF NOT EXISTS ${database}`);
    await post(chText(eventsTableDdl(database, 'events')));
    await post(`INSERT INTO ${database}.events FORMAT JSONEachRow`, lines);
    duck = await openTestDb();
    await insertEvents(duck.connection, history);
  });

  after(async () => {
    chdb?.cleanup();
    duck?.connection.closeSync();
    duck?.instance.closeSync();
    await server?.stop();
  });

  /**
   * A statement on 18.16. One retry: chdb runs in this thread, and while it does the idle HTTP
   * connection can pass 18.16's keep-alive timeout and be closed under the next request.
   */
  async function on18_16(text: string): Promise<string> {
    const send = () =>
      fetch(`${server.nodes[0]!.httpUrl}/?database=${database}&default_format=JSONEachRow`, {
        method: 'POST',
        body: text,
      });
    const res = await send().catch(send);
    const body = await res.text();
    assert.equal(res.status, 200, body);
    return body;
  }

  test('the golden table has ClickHouse statements to run', () => {
    assert.ok(names.filter((n) => readGolden('clickhouse', n).plan === 'sql').length >= 10);
  });

  for (const name of names) {
    test(name, async (t) => {
      const golden = readGolden('clickhouse', name);
      if (golden.plan !== 'sql') {
        t.diagnostic('hybrid plan on ClickHouse: no statement');
        return;
      }
      const onChdb = chdb
        .query(golden.sql, 'JSONEachRow')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => String((JSON.parse(l) as { u: string }).u));
      const body = await on18_16(golden.sql);
      const on1816 = body
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => String((JSON.parse(l) as { u: string }).u));
      const duckGolden = readGolden('duckdb', name);
      const onDuck = (
        await new DuckDbExecutor(duck.connection).firstColumn({
          sql: duckGolden.sql,
          parameters: duckGolden.parameters as never,
        })
      ).map(String);
      t.diagnostic(`${on1816.length} members`);
      assert.deepEqual(onChdb, on1816, 'chdb (26.7) and 18.16');
      assert.deepEqual(on1816, onDuck, '18.16 and DuckDB');
    });
  }
});
