// Under AUDEX_MEMORY_LIMIT, `audex serve` and `audex demo` run with V8's old space capped at its
// share of the budget (src/server/memory-budget.ts). Without a cap V8 lets garbage (the rows of
// big pages) pile up towards its default limit of several GB before collecting hard, which no
// budget holds. V8 reads the cap only when a process starts, and Node 20 cannot replace its own
// process image, so the command starts itself again once with --max-old-space-size (the second
// process sees the flag and runs the server). The first one only waits: it passes signals on,
// ends with the server's exit code or signal, and if it is killed (even by SIGKILL) the server
// notices its IPC channel close and kills itself the same way, as if it had been the one killed.

import { spawn } from 'node:child_process';
import { heapLimitMiBFor, parseBytes } from '../server/memory-budget.ts';

const SERVER_COMMANDS = new Set(['serve', 'demo']);
const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/** The --max-old-space-size this command should run with; undefined when none is needed. */
export function heapLimitFor(argv: string[], env: NodeJS.ProcessEnv): number | undefined {
  if (!SERVER_COMMANDS.has(argv[0] ?? '') || !env.AUDEX_MEMORY_LIMIT) return undefined;
  if (process.execArgv.some((a) => a.startsWith('--max-old-space-size'))) return undefined;
  try {
    return heapLimitMiBFor(parseBytes(env.AUDEX_MEMORY_LIMIT));
  } catch {
    return undefined; // an invalid budget is reported by the configuration check as usual
  }
}

/** In the relaunched server: die with the launcher (a SIGKILL of the launcher must not orphan it). */
export function followLauncher(): void {
  if (!process.env.AUDEX_LAUNCHER_PID || !process.channel) return;
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}

/** Runs this command again with the heap cap and resolves to its exit code (never for a signal). */
export function relaunchWithHeapLimit(argv: string[], heapMiB: number): Promise<number> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, `--max-old-space-size=${heapMiB}`, process.argv[1]!, ...argv],
    {
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, AUDEX_LAUNCHER_PID: String(process.pid) },
      // Its own process group: a terminal's Ctrl-C (SIGINT to the whole foreground group) reaches
      // the server once, through the launcher, not twice (the second would cut its shutdown short).
      detached: true,
    },
  );
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const s of FORWARDED) process.on(s, forward);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      for (const s of FORWARDED) process.off(s, forward);
      if (signal) process.kill(process.pid, signal);
      else resolve(code ?? 1);
    });
  });
}
