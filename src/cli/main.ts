// `audex` command line (commander). `serve` and `demo` run the server in this process; the other
// commands are clients of the public API (server and key from --server/AUDEX_SERVER and
// --key/AUDEX_KEY). Exit codes: 0 done, 1 the work failed (API error, FAILED export), 2 usage.

import { CommanderError } from 'commander';
import { ConfigError } from '../config/config.ts';
import { ApiClientError } from './client.ts';
import { buildProgram } from './commands.ts';
import { serverExitCode } from './server-commands.ts';
import { PortInUseError } from '../server/ports.ts';
import { followLauncher, heapLimitFor, relaunchWithHeapLimit } from './heap-limit.ts';
import { CatalogOpenError } from '../catalog/errors.ts';
import { isStorageError } from '../storage/errors.ts';

export async function main(argv: string[]): Promise<number> {
  const heapMiB = heapLimitFor(argv, process.env);
  if (heapMiB !== undefined) return relaunchWithHeapLimit(argv, heapMiB);
  followLauncher();
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; a command group without its subcommand, or any parse error, is usage.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`audex: ${err.message}\n`);
      return 2;
    }
    // A port taken, or a catalog or storage engine that cannot be opened (bad URL, unreachable
    // server, refused credentials, unknown cluster): one line that says what happened, no stack.
    if (err instanceof PortInUseError || err instanceof CatalogOpenError || isStorageError(err))
      process.stderr.write(`audex: ${err.message}\n`);
    else if (err instanceof ApiClientError) process.stderr.write(`audex: ${err.status}: ${err.message}\n`);
    else process.stderr.write(`audex: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
  return serverExitCode ?? (process.exitCode as number | undefined) ?? 0;
}

// `audex … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const code = await main(process.argv.slice(2));
// `serve` has closed everything it opened; anything left (a stray handle) must not keep it alive.
if (serverExitCode !== null) process.exit(code);
process.exitCode = code;
