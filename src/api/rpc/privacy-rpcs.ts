// Privacy and data-lifecycle RPCs (src/privacy/): SubmitUserDeletion (v1alpha only, as in the
// Admin API) and Get/UpdateDataRetentionSettings (v1alpha and v1beta).

import type { UserDeletionService } from '../../privacy/user-deletion.ts';
import type { RetentionSettingsService } from '../../privacy/retention.ts';
import type { RpcRegistry } from './registry.ts';

export function registerPrivacyRpcs(
  reg: RpcRegistry,
  deletions: UserDeletionService,
  retention: RetentionSettingsService,
): void {
  reg.add('google.analytics.admin.v1alpha.AnalyticsAdminService.SubmitUserDeletion', async (p, r) =>
    deletions.submit(p, r),
  );
  for (const version of ['v1alpha', 'v1beta']) {
    const s = `google.analytics.admin.${version}.AnalyticsAdminService.`;
    reg
      .add(s + 'GetDataRetentionSettings', async (p, r) => retention.get(p, r.name))
      .add(s + 'UpdateDataRetentionSettings', async (p, r) =>
        retention.update(p, r.dataRetentionSettings, r.updateMask),
      );
  }
}
