// A background task run now and then every intervalMs until stop(): the recurring-list scheduler,
// the audience trigger logger and the device-attribute fold. The next run is scheduled when the
// previous one ends, so two runs never overlap; a failed run is reported and the loop goes on.
// The timer does not keep the process alive on its own.

export class RepeatingTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = true;

  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Runs now, then every intervalMs after each run ends. A second start() does nothing. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = (): void => {
      if (this.stopped) return;
      this.running = this.run()
        .then(
          () => undefined,
          (err: unknown) => this.onError(err),
        )
        .finally(() => {
          if (!this.stopped) {
            this.timer = setTimeout(loop, this.intervalMs);
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
