import { startClickHouse } from '/work/wt/ch/test/helpers/clickhouse-server.ts';
const t0 = Date.now();
const s = await startClickHouse({ shards: Number(process.argv[2] ?? 1) });
console.log('up in', Date.now() - t0, s.nodes, s.eventsUrl('db'));
const q = async (sql: string) => { const r = await fetch(s.nodes[0]!.httpUrl + '/', { method: 'POST', body: sql }); return r.status + ' ' + (await r.text()); };
for (const sql of (process.argv[3] ?? '').split(';;')) if (sql.trim()) console.log(sql, '=>', await q(sql));
await s.stop();
