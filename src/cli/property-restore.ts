// `audex properties restore properties/P`: the operator command that takes a trashed property out
// of the trash before its 35 days are over (POST /audex/v1/properties/P:restore, operator key).
// A module of its own so that it moves as one piece when the CLI's argument parsing changes.

import { parseArgs } from 'node:util';
import type { AudexClient } from './client.ts';

export const RESTORE_USAGE =
  '  audex properties restore properties/P   # operator key; before the 35 days of the trash end';

export async function restorePropertyCommand(
  args: string[],
  client: (values: { server?: string; key?: string }) => AudexClient,
  usageError: (message: string) => Error,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { server: { type: 'string' }, key: { type: 'string' }, json: { type: 'boolean' } },
    allowPositionals: true,
  });
  const name = positionals[0];
  if (!name || positionals.length !== 1 || !/^properties\/\d+$/.test(name))
    throw usageError('properties restore needs one property name (properties/P)');
  const res = await client(values).call<{ name: string }>('POST', `/audex/v1/${name}:restore`);
  process.stdout.write(values.json ? JSON.stringify(res) + '\n' : `Restored ${res.name}.\n`);
  return 0;
}
