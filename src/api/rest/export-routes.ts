// REST bindings of the Data API v1beta audience exports (google.api.http rules of
// analytics_data_api.proto) and of GetOperation (`GET /v1/{name=operations/**}`, the default rule
// of google/longrunning/operations.proto that the official REST client polls; audex extension).

import type { RestApi } from './http-server.ts';
import type { ExportService } from '../service/exports.ts';
import type { RpcRegistry } from '../rpc/registry.ts';

export function registerExportRoutes(api: RestApi, exports: ExportService): void {
  api
    .api('POST', '/v1beta/{parent=properties/*}/audienceExports', async (r) =>
      exports.create(r.principal, r.params.parent!, r.body),
    )
    .api('GET', '/v1beta/{parent=properties/*}/audienceExports', async (r) =>
      exports.list(r.principal, r.params.parent!, {
        pageSize: r.query.get('pageSize') ?? r.query.get('page_size') ?? undefined,
        pageToken: r.query.get('pageToken') ?? r.query.get('page_token') ?? undefined,
      }),
    )
    .api('GET', '/v1beta/{name=properties/*/audienceExports/*}', async (r) =>
      exports.get(r.principal, r.params.name!),
    )
    .api('POST', '/v1beta/{name=properties/*/audienceExports/*}:query', async (r) =>
      exports.query(r.principal, r.params.name!, r.body),
    )
    .api('GET', '/v1/{name=operations/**}', async (r) => exports.getOperation(r.principal, r.params.name!));
}

/**
 * The same RPCs for the transport-neutral registry (src/api/rpc/registry.ts), so gRPC serves them
 * too. Not wired yet: to switch, call this before `rpcs.bindRest(api)` and drop
 * registerExportRoutes (the REST paths then come from the protos' google.api.http rules).
 * The gRPC transport must pack Operation.response/metadata (proto3 JSON Any with '@type').
 */
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
    .add('google.longrunning.Operations.GetOperation', async (p, r) => exports.getOperation(p, r.name));
}
