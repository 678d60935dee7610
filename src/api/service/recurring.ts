// Data API v1alpha recurring audience lists, transport-free: CreateRecurringAudienceList (returns
// the resource itself, not an operation), GetRecurringAudienceList, ListRecurringAudienceLists.
// The rows and the daily schedule belong to RecurringScheduler (src/exports/recurring.ts); the
// lists it makes are ordinary audience lists (ExportService.createForRecurring). The create call
// runs one scheduler pass, so the first list exists (and is named in `audienceLists`) when the
// create returns.

import type { CatalogDb } from '../../catalog/db.ts';
import { PropertyRepository } from '../../catalog/repos/properties.ts';
import { errors } from '../../domain/errors.ts';
import { parseName, parseProperty } from '../../domain/names.ts';
import { requireRole, type Principal } from '../../auth/principal.ts';
import {
  parseRecurringInput,
  recurringJson,
  type RecurringRow,
  type RecurringScheduler,
} from '../../exports/recurring.ts';
import type { AudienceService } from './audiences.ts';
import { parseDimensions, parsePage } from './exports.ts';
import { requireProperty } from './properties.ts';

export interface RecurringServiceOptions {
  allowHttpWebhooks: boolean;
  log: { error(msg: string, fields?: Record<string, unknown>): void };
}

const F = 'recurring_audience_list';

export class RecurringListService {
  constructor(
    private readonly db: CatalogDb,
    private readonly audiences: AudienceService,
    private readonly scheduler: RecurringScheduler,
    private readonly opts: RecurringServiceOptions,
  ) {}

  async create(p: Principal, parent: string, body: unknown) {
    const propertyId = parseProperty(parent, 'parent');
    requireRole(p, propertyId, 'editor');
    const input = parseRecurringInput(body, { allowHttpWebhooks: this.opts.allowHttpWebhooks });
    const [audProperty] = parseName('audience', input.audience, `${F}.audience`);
    if (audProperty !== propertyId)
      throw errors.invalidField(`${F}.audience`, `${String(input.audience)} does not belong to ${parent}.`);
    const dimensions = parseDimensions(input.dimensions, `${F}.dimensions`);
    await requireProperty(this.db, propertyId);
    const audience = await this.audiences.forExportRequest(p, input.audience, `${F}.audience`);
    const timeZone = await new PropertyRepository(this.db).timeZone(propertyId);
    const row = await this.scheduler.create({
      propertyId,
      audience: audience.name,
      audienceDisplayName: audience.definition.displayName,
      dimensions,
      activeDaysRemaining: input.activeDaysRemaining,
      ...(input.webhook ? { webhook: input.webhook } : {}),
      timeZone: timeZone ?? 'UTC',
    });
    // The first list is made right away (the scheduler's rules); a failure here is retried by
    // the scheduler's own loop, so the create still succeeds.
    try {
      await this.scheduler.tick();
    } catch (err) {
      this.opts.log.error('recurring audience list: first list not made at create', {
        recurring: row.name,
        err: String(err),
      });
    }
    return this.json((await this.scheduler.get(propertyId, row.id)) ?? row);
  }

  async get(p: Principal, name: string) {
    const [propertyId, id] = parseName('recurringAudienceList', name, 'name');
    requireRole(p, propertyId!, 'viewer');
    await requireProperty(this.db, propertyId!);
    const row = await this.scheduler.get(propertyId!, id!);
    if (!row) throw errors.notFound(`Recurring audience list ${String(name)} not found.`);
    return this.json(row);
  }

  async list(p: Principal, parent: string, req: { pageSize?: unknown; pageToken?: unknown }) {
    const propertyId = parseProperty(parent, 'parent');
    requireRole(p, propertyId, 'viewer');
    const { size, before, token } = parsePage(req, `recurringAudienceLists|${parent}`);
    await requireProperty(this.db, propertyId);
    const rows = await this.scheduler.list(propertyId, before, size + 1);
    const page = rows.slice(0, size);
    const last = page[page.length - 1];
    return {
      recurringAudienceLists: await Promise.all(page.map((r) => this.json(r))),
      ...(rows.length > size && last ? { nextPageToken: token(last.id) } : {}),
    };
  }

  private async json(row: RecurringRow) {
    return recurringJson(row, await this.scheduler.listNames(row.id));
  }
}
