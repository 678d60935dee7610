// The phases of an export job as its percentageCompleted shows them. The runner (runner.ts) moves
// the percentage through fixed bands: 0 until a runner takes the job, up to 40 while the test
// delay (AUDEX_TEST_EXPORT_DELAY_MS) runs, then 40 + 0.6 x the snapshot's own progress
// (DuckDbSnapshotStore.materialize: 5 started, 10 or 50 members found, 60 attributes and table
// written, 95 committed). `audex exports create --wait` names the phase the job is in.

export interface ExportPhase {
  /** Lowest percentageCompleted of the phase. */
  from: number;
  label: string;
}

export const EXPORT_PHASES: readonly ExportPhase[] = [
  { from: 0, label: 'queued' },
  { from: 1, label: 'preparing' },
  { from: 43, label: 'finding members' },
  { from: 76, label: 'writing member attributes' },
  { from: 97, label: 'finishing' },
];

export function exportPhase(state: string, percentageCompleted: number): string {
  if (state === 'ACTIVE') return 'done';
  if (state === 'FAILED') return 'failed';
  let label = EXPORT_PHASES[0]!.label;
  for (const p of EXPORT_PHASES) if (percentageCompleted >= p.from) label = p.label;
  return label;
}
