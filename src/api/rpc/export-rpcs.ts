// Data API v1beta audience-export RPCs and google.longrunning GetOperation, as transport-free
// handlers. REST paths come from the protos' google.api.http rules; GetOperation's default rule
// (`GET /v1/{name=operations/**}`) is what the official Node REST client polls (an audex
// extension: Google's service config does not bind it). Google's Python clients poll
// `GET /v1beta/{name=**/operations/*}` (and `/v1alpha/…`): a segment before `operations/` and
// exactly one after. Operation names `operations/properties/{p}/operations/{id}` fit both routes
// (ExportService.getOperation), and both are served here.

import type { ExportService } from '../service/exports.ts';
import type { RpcRegistry } from './registry.ts';

export function registerExportRpcs(reg: RpcRegistry, exports: ExportService): void {
  const s = 'google.analytics.data.v1beta.BetaAnalyticsData.';
  reg
    .add(s + 'CreateAudienceExport', async (p, r) => exports.create(p, r.parent, r.audienceExport))
    .add(s + 'GetAudienceExport', async (p, r) => exports.get(p, r.name))
    .add(s + 'ListAudienceExports', async (p, r) =>
      exports.list(p, r.parent, { pageSize: r.pageSize, pageToken: r.pageToken }),
    )
    .add(s + 'QueryAudienceExport', async (p, r) =>
      exports.query(p, r.name, { offset: r.offset, limit: r.limit }),
    )
    .add('google.longrunning.Operations.GetOperation', async (p, r) => exports.getOperation(p, r.name))
    .addRest('google.longrunning.Operations.GetOperation', [
      { method: 'GET', path: '/v1beta/{name=**/operations/*}', body: '' },
      { method: 'GET', path: '/v1alpha/{name=**/operations/*}', body: '' },
    ]);
}
