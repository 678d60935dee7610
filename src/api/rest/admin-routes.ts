// google.api.http bindings of the Admin API RPCs audex implements, under both v1beta and v1alpha.

import type { AdminService } from '../service/admin.ts';
import type { RestApi } from './http-server.ts';

const page = (q: URLSearchParams) => ({
  pageSize: q.get('pageSize') ?? undefined,
  pageToken: q.get('pageToken') ?? undefined,
});

export function registerAdminRoutes(api: RestApi, admin: AdminService): void {
  for (const v of ['v1beta', 'v1alpha']) {
    api
      .api('GET', `/${v}/accounts`, async (r) => admin.listAccounts(r.principal))
      .api('GET', `/${v}/{name=accounts/*}`, async (r) => admin.getAccount(r.principal, r.params.name!))
      .api('POST', `/${v}/properties`, async (r) => admin.createProperty(r.principal, r.body))
      .api('GET', `/${v}/properties`, async (r) =>
        admin.listProperties(r.principal, { ...page(r.query), filter: r.query.get('filter') ?? undefined }),
      )
      .api('GET', `/${v}/{name=properties/*}`, async (r) => admin.getProperty(r.principal, r.params.name!))
      .api('PATCH', `/${v}/{name=properties/*}`, async (r) =>
        admin.updateProperty(r.principal, r.params.name!, r.body, r.query.get('updateMask')),
      )
      .api('DELETE', `/${v}/{name=properties/*}`, async (r) =>
        admin.deleteProperty(r.principal, r.params.name!),
      )
      .api('POST', `/${v}/{parent=properties/*}/dataStreams`, async (r) =>
        admin.createDataStream(r.principal, r.params.parent!, r.body),
      )
      .api('GET', `/${v}/{parent=properties/*}/dataStreams`, async (r) =>
        admin.listDataStreams(r.principal, r.params.parent!, page(r.query)),
      )
      .api('GET', `/${v}/{name=properties/*/dataStreams/*}`, async (r) =>
        admin.getDataStream(r.principal, r.params.name!),
      )
      .api('PATCH', `/${v}/{name=properties/*/dataStreams/*}`, async (r) =>
        admin.updateDataStream(r.principal, r.params.name!, r.body, r.query.get('updateMask')),
      )
      .api('DELETE', `/${v}/{name=properties/*/dataStreams/*}`, async (r) =>
        admin.deleteDataStream(r.principal, r.params.name!),
      )
      .api('POST', `/${v}/{parent=properties/*/dataStreams/*}/measurementProtocolSecrets`, async (r) =>
        admin.createSecret(r.principal, r.params.parent!, r.body),
      )
      .api('GET', `/${v}/{parent=properties/*/dataStreams/*}/measurementProtocolSecrets`, async (r) =>
        admin.listSecrets(r.principal, r.params.parent!, page(r.query)),
      )
      .api('GET', `/${v}/{name=properties/*/dataStreams/*/measurementProtocolSecrets/*}`, async (r) =>
        admin.getSecret(r.principal, r.params.name!),
      )
      .api('PATCH', `/${v}/{name=properties/*/dataStreams/*/measurementProtocolSecrets/*}`, async (r) =>
        admin.updateSecret(r.principal, r.params.name!, r.body, r.query.get('updateMask')),
      )
      .api('DELETE', `/${v}/{name=properties/*/dataStreams/*/measurementProtocolSecrets/*}`, async (r) =>
        admin.deleteSecret(r.principal, r.params.name!),
      );
  }
}
