// Versioned catalog migrations, applied in name order. Add a file and a line; never edit an
// applied migration.
import type { Migration } from 'kysely';
import * as m001 from './001_core.ts';
import * as m002 from './002_audiences.ts';
import * as m003 from './003_exports.ts';
import * as m004 from './004_webhooks_recurring.ts';
import * as m005 from './005_audience_lists.ts';
import * as m006 from './006_privacy.ts';

export const migrations: Record<string, Migration> = {
  '001_core': m001,
  '002_audiences': m002,
  '003_exports': m003,
  '004_webhooks_recurring': m004,
  '005_audience_lists': m005,
  '006_privacy': m006,
};
