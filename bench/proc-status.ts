// A process's memory as /proc/<pid>/status reports it, for the benches that print RSS.
import { readFileSync } from 'node:fs';

/** VmRSS (resident now) or VmHWM (peak so far) of a process, in MiB; NaN when not reported. */
export function procStatusMiB(pid: number | 'self', field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
