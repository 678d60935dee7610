// google.api.http bindings of the Admin API v1alpha audience RPCs.

import type { AudienceService } from '../service/audiences.ts';
import type { RestApi } from './http-server.ts';

export function registerAudienceRoutes(api: RestApi, audiences: AudienceService): void {
  api
    .api('POST', '/v1alpha/{parent=properties/*}/audiences', async (r) =>
      audiences.create(r.principal, r.params.parent!, r.body),
    )
    .api('GET', '/v1alpha/{parent=properties/*}/audiences', async (r) =>
      audiences.list(r.principal, r.params.parent!, {
        pageSize: r.query.get('pageSize') ?? undefined,
        pageToken: r.query.get('pageToken') ?? undefined,
      }),
    )
    .api('GET', '/v1alpha/{name=properties/*/audiences/*}', async (r) =>
      audiences.get(r.principal, r.params.name!),
    )
    .api('PATCH', '/v1alpha/{name=properties/*/audiences/*}', async (r) =>
      audiences.update(r.principal, r.params.name!, r.body, r.query.get('updateMask') ?? undefined),
    )
    .api('POST', '/v1alpha/{name=properties/*/audiences/*}:archive', async (r) =>
      audiences.archive(r.principal, r.params.name!),
    );
}
