// Data API v1alpha audience-list and recurring-audience-list RPCs, as transport-free handlers
// (REST paths come from the protos' google.api.http rules). Audience lists run on the v1beta
// export machinery (ExportService, kind 'list'); GetOperation (registered with the export RPCs)
// resolves both `operations/audienceExport-…` and `operations/audienceList-…`.

import type { ExportService } from '../service/exports.ts';
import type { RecurringListService } from '../service/recurring.ts';
import type { RpcRegistry } from './registry.ts';

export function registerListRpcs(
  reg: RpcRegistry,
  exports: ExportService,
  recurring: RecurringListService,
): void {
  const s = 'google.analytics.data.v1alpha.AlphaAnalyticsData.';
  reg
    .add(s + 'CreateAudienceList', async (p, r) => exports.createList(p, r.parent, r.audienceList))
    .add(s + 'GetAudienceList', async (p, r) => exports.getList(p, r.name))
    .add(s + 'ListAudienceLists', async (p, r) =>
      exports.listLists(p, r.parent, { pageSize: r.pageSize, pageToken: r.pageToken }),
    )
    .add(s + 'QueryAudienceList', async (p, r) =>
      exports.queryList(p, r.name, { offset: r.offset, limit: r.limit }),
    )
    .add(s + 'CreateRecurringAudienceList', async (p, r) =>
      recurring.create(p, r.parent, r.recurringAudienceList),
    )
    .add(s + 'GetRecurringAudienceList', async (p, r) => recurring.get(p, r.name))
    .add(s + 'ListRecurringAudienceLists', async (p, r) =>
      recurring.list(p, r.parent, { pageSize: r.pageSize, pageToken: r.pageToken }),
    );
}
