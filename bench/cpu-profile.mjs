// Preload for profiling a server started by a bench: NODE_OPTIONS="--import ./bench/cpu-profile.mjs"
// (NODE_OPTIONS refuses --cpu-prof). Samples the main thread from start to exit and writes
// $AUDEX_CPU_PROFILE_DIR/server-<pid>.cpuprofile (open in Chrome DevTools or summarize with
// bench/profile-summary.mjs).
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.AUDEX_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // The main-thread session answers synchronously, so this completes inside the exit handler.
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `server-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
