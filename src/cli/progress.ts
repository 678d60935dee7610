// Progress for long CLI operations: a bar on a terminal, a line every 10% otherwise (logs, CI).
import cliProgress from 'cli-progress';

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
