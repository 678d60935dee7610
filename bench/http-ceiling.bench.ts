// The ceiling of the Measurement Protocol bench on this machine: the same requests, the same load
// generator (autocannon, in this process), against a bare node:http server (a child process) that
// reads the body, JSON.parses it, checks `events` is an array and answers 204 — no validation, no
// storage. What audex's /mp/collect achieves (bench/mp-ingest.bench.ts) is to be read against it:
// the gap is audex's own per-request work. Usage:
//   npx tsx bench/http-ceiling.bench.ts [seconds=10] [connections=64]
import http from 'node:http';
import { fork } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { postLoad } from './mp-requests.ts';

if (process.argv[2] === '--serve') {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events?: unknown };
      res.statusCode = Array.isArray(body.events) ? 204 : 400;
      res.end();
    });
  });
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port));
} else {
  const seconds = Number(process.argv[2] ?? 10);
  const connections = Number(process.argv[3] ?? 64);
  const child = fork(import.meta.filename, ['--serve'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(Number(m))));
  const { result, wall, serverCpu, selfCpu } = await postLoad(
    `http://127.0.0.1:${port}/mp/collect`,
    child.pid!,
    connections,
    seconds,
  );
  child.kill();
  const ok = result['2xx'];
  console.log(`bare node:http server, connections=${connections}, ${seconds} s: ${ok} requests answered 204`);
  console.log(
    `${Math.round((ok * 25) / seconds)} events/s (${Math.round(ok / seconds)} requests/s); latency ms p50=${result.latency.p50} p99=${result.latency.p99}`,
  );
  console.log(
    `cpu over ${wall.toFixed(1)} s wall: server ${serverCpu.toFixed(1)} s (${((100 * serverCpu) / wall).toFixed(0)}%), ` +
      `load generator ${selfCpu.toFixed(1)} s (${((100 * selfCpu) / wall).toFixed(0)}%); ` +
      `server CPU per request ${((serverCpu / Math.max(1, ok)) * 1e6).toFixed(0)} µs`,
  );
}
