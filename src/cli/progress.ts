// Progress for long CLI operations: a bar on a terminal, a line every 10% otherwise (logs, CI).
import cliProgress from 'cli-progress';
import { exportPhase } from '../exports/phases.ts';

export interface Progress {
  update(value: number): void;
  stop(): void;
}

export function progress(label: string, total: number, unit: string): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% {value}/{total} ${unit}`, stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    return { update: (v) => bar.update(Math.min(v, total)), stop: () => bar.stop() };
  }
  let lastDecile = -1;
  return {
    update: (v) => {
      const decile = total > 0 ? Math.floor((10 * Math.min(v, total)) / total) : 10;
      if (decile > lastDecile) {
        lastDecile = decile;
        process.stderr.write(`${label}: ${decile * 10}%\n`);
      }
    },
    stop: () => {},
  };
}

/**
 * Progress of an export job: its phase (src/exports/phases.ts) and percentage, with the time
 * spent. A bar on a terminal; otherwise one line whenever the phase changes.
 */
export function phaseReporter(name: string): { update(state: string, percent: number): void; stop(): void } {
  const started = Date.now();
  const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `creating ${name} [{bar}] {percentage}% {phase} {elapsed}`, stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
    bar.start(100, 0, { phase: 'queued', elapsed: '0.0 s' });
    return {
      update: (state, p) => bar.update(Math.round(p), { phase: exportPhase(state, p), elapsed: seconds() }),
      stop: () => bar.stop(),
    };
  }
  let last = '';
  return {
    update: (state, p) => {
      const phase = exportPhase(state, p);
      if (phase === last) return;
      last = phase;
      process.stderr.write(`creating ${name}: ${Math.round(p)}% ${phase} (${seconds()})\n`);
    },
    stop: () => {},
  };
}
