// Admin API RPCs audex implements (v1alpha and v1beta share them), as transport-free handlers.

import type { AdminService } from '../service/admin.ts';
import type { AudienceService } from '../service/audiences.ts';
import type { RpcRegistry } from './registry.ts';

const page = (r: Record<string, unknown>) => ({ pageSize: r.pageSize, pageToken: r.pageToken });

export function registerAdminRpcs(reg: RpcRegistry, admin: AdminService, audiences: AudienceService): void {
  for (const version of ['v1alpha', 'v1beta']) {
    const s = `google.analytics.admin.${version}.AnalyticsAdminService.`;
    reg
      .add(s + 'GetAccount', async (p, r) => admin.getAccount(p, r.name))
      .add(s + 'ListAccounts', async (p) => admin.listAccounts(p))
      .add(s + 'CreateProperty', async (p, r) => admin.createProperty(p, r.property))
      .add(s + 'GetProperty', async (p, r) => admin.getProperty(p, r.name))
      .add(s + 'ListProperties', async (p, r) =>
        admin.listProperties(p, { ...page(r), filter: r.filter, showDeleted: r.showDeleted }),
      )
      .add(s + 'UpdateProperty', async (p, r) =>
        admin.updateProperty(p, r.property?.name, r.property, r.updateMask),
      )
      .add(s + 'DeleteProperty', async (p, r) => admin.deleteProperty(p, r.name))
      .add(s + 'CreateDataStream', async (p, r) => admin.createDataStream(p, r.parent, r.dataStream))
      .add(s + 'GetDataStream', async (p, r) => admin.getDataStream(p, r.name))
      .add(s + 'ListDataStreams', async (p, r) => admin.listDataStreams(p, r.parent, page(r)))
      .add(s + 'UpdateDataStream', async (p, r) =>
        admin.updateDataStream(p, r.dataStream?.name, r.dataStream, r.updateMask),
      )
      .add(s + 'DeleteDataStream', async (p, r) => admin.deleteDataStream(p, r.name))
      .add(s + 'CreateMeasurementProtocolSecret', async (p, r) =>
        admin.createSecret(p, r.parent, r.measurementProtocolSecret),
      )
      .add(s + 'GetMeasurementProtocolSecret', async (p, r) => admin.getSecret(p, r.name))
      .add(s + 'ListMeasurementProtocolSecrets', async (p, r) => admin.listSecrets(p, r.parent, page(r)))
      .add(s + 'UpdateMeasurementProtocolSecret', async (p, r) =>
        admin.updateSecret(p, r.measurementProtocolSecret?.name, r.measurementProtocolSecret, r.updateMask),
      )
      .add(s + 'DeleteMeasurementProtocolSecret', async (p, r) => admin.deleteSecret(p, r.name));
  }
  const a = 'google.analytics.admin.v1alpha.AnalyticsAdminService.';
  reg
    .add(a + 'CreateAudience', async (p, r) => audiences.create(p, r.parent, r.audience))
    .add(a + 'GetAudience', async (p, r) => audiences.get(p, r.name))
    .add(a + 'ListAudiences', async (p, r) => audiences.list(p, r.parent, page(r)))
    .add(a + 'UpdateAudience', async (p, r) =>
      audiences.update(p, r.audience?.name, r.audience, r.updateMask),
    )
    .add(a + 'ArchiveAudience', async (p, r) => audiences.archive(p, r.name));
}
