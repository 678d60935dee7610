// A background task run now and then every intervalMs until stop(): the recurring-list scheduler,
// the audience trigger logger and the device-attribute fold. The next run is scheduled when the
// previous one ends, so two runs never overlap; a failed run is reported and the loop goes on.
// The timer does not keep the process alive on its own. With `maxShare`, a long run is followed
// by a proportionally longer pause, so the task never takes more than that share of the time
// (the trigger logger's passes grow with the users' history and run beside collection).

export interface RepeatingTaskOptions {
  /** The most of the wall time runs may take, in (0, 1]: after a run of d ms the pause is at
   * least d·(1 − maxShare)/maxShare. Default 1 (no limit). */
  maxShare?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

export class RepeatingTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = true;

  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly options: RepeatingTaskOptions = {},
  ) {}

  /** The pause after a run that took `tookMs`. */
  pauseAfter(tookMs: number): number {
    const share = Math.min(1, Math.max(0.01, this.options.maxShare ?? 1));
    return Math.max(this.intervalMs, Math.ceil((tookMs * (1 - share)) / share));
  }

  /** Runs now, then every intervalMs (or the maxShare pause) after each run ends. A second start() does nothing. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = (): void => {
      if (this.stopped) return;
      const now = this.options.now ?? Date.now;
      const started = now();
      this.running = this.run()
        .then(
          () => undefined,
          (err: unknown) => this.onError(err),
        )
        .finally(() => {
          if (!this.stopped) {
            this.timer = setTimeout(loop, this.pauseAfter(now() - started));
            this.timer.unref();
          }
        });
    };
    loop();
  }

  /** No run starts after this; resolves once a run in flight has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
