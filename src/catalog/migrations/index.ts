// Versioned catalog migrations, applied in name order. Add a file and a line; never edit an
// applied migration.
import type { Migration } from 'kysely';
import * as m001 from './001_core.ts';
import * as m002 from './002_audiences.ts';

export const migrations: Record<string, Migration> = {
  '001_core': m001,
  '002_audiences': m002,
};
