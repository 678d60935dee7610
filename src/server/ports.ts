// Checks that the server's ports can be bound before anything touches the data folder: a start
// that cannot listen must not create files or an operator key it would never print.

import { createServer } from 'node:net';

export class PortInUseError extends Error {
  constructor(
    readonly setting: string,
    readonly host: string,
    readonly port: number,
    code: string,
  ) {
    super(
      code === 'EADDRINUSE'
        ? `${setting}: port ${port} on ${host} is already in use (another audex?); choose another port or stop the other server.`
        : `${setting}: cannot listen on ${host}:${port} (${code}).`,
    );
    this.name = 'PortInUseError';
  }
}

function tryListen(host: string, port: number, setting: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(new PortInUseError(setting, host, port, err.code ?? String(err))),
    );
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** Rejects with a PortInUseError naming the setting of the first port that cannot be bound (0 is always free). */
export async function assertPortsFree(
  host: string,
  ports: { port: number; setting: string }[],
): Promise<void> {
  for (const p of ports) if (p.port !== 0) await tryListen(host, p.port, p.setting);
}
