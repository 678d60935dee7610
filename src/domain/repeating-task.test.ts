import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { RepeatingTask } from './repeating-task.ts';
import { loadConfig } from '../config/config.ts';
import { captureWarnings } from '../../test/helpers/warnings.ts';

describe('RepeatingTask', () => {
  it('pauses intervalMs, or longer after a long run when maxShare is set', () => {
    const none = (): void => undefined;
    const plain = new RepeatingTask(async () => undefined, 5000, none);
    assert.equal(plain.pauseAfter(60_000), 5000, 'no limit by default');
    const capped = new RepeatingTask(async () => undefined, 5000, none, { maxShare: 0.1 });
    assert.equal(capped.pauseAfter(100), 5000);
    assert.equal(capped.pauseAfter(1000), 9000, 'a 1 s run is 10 % of 10 s');
    assert.equal(
      new RepeatingTask(async () => undefined, 10, none, { maxShare: 0.25 }).pauseAfter(400),
      1200,
    );
  });

  it('schedules the next run after the pause its last run earned', async () => {
    // Node 20 announces MockTimers as experimental (once per process; later Node lines call it
    // stable): expected, so captured and asserted here rather than printed.
    const experimental = captureWarnings(
      (w) => w.name === 'ExperimentalWarning' && /MockTimers/.test(w.message),
    );
    mock.timers.enable({ apis: ['setTimeout'] });
    const announced = experimental.stop().length;
    if (Number(process.versions.node.split('.')[0]) === 20) assert.equal(announced, 1);
    else assert.ok(announced <= 1);
    try {
      let clock = 0;
      const starts: number[] = [];
      const task = new RepeatingTask(
        async () => {
          starts.push(clock);
          clock += 2000; // each run "takes" 2 s of the fake clock
        },
        1000,
        () => undefined,
        { maxShare: 0.2, now: () => clock },
      );
      task.start();
      await new Promise<void>((r) => setImmediate(r));
      assert.deepEqual(starts, [0]);
      // 20 % of the time: a 2 s run earns an 8 s pause (not the 1 s interval).
      mock.timers.tick(7999);
      await new Promise<void>((r) => setImmediate(r));
      assert.deepEqual(starts, [0], 'not before the pause');
      clock += 8000;
      mock.timers.tick(1);
      await new Promise<void>((r) => setImmediate(r));
      assert.deepEqual(starts, [0, 10_000]);
      await task.stop();
    } finally {
      mock.timers.reset();
    }
  });

  it('the trigger logger takes at most 10 % of the time unless configured', () => {
    assert.equal(loadConfig({}, {}).triggers.maxShare, 0.1);
    assert.equal(loadConfig({}, { AUDEX_TRIGGER_MAX_SHARE: '1' }).triggers.maxShare, 1);
    assert.throws(() => loadConfig({}, { AUDEX_TRIGGER_MAX_SHARE: '0' }), /triggers\.maxShare/);
  });
});
