// The official Google clients pointed at a local audex, as lab-notes Q1 shows.

import { OAuth2Client } from 'google-auth-library';
import { AnalyticsAdminServiceClient } from '@google-analytics/admin';
import { v1beta as adminV1beta } from '@google-analytics/admin';

function authFor(key: string): OAuth2Client {
  const auth = new OAuth2Client();
  // No expiry_date: the token is never refreshed, so Google is never contacted.
  auth.setCredentials({ access_token: key });
  return auth;
}

export function restOptions(port: number, key: string) {
  return {
    fallback: true as const,
    apiEndpoint: '127.0.0.1',
    port,
    protocol: 'http',
    authClient: authFor(key),
  };
}

export function adminClient(port: number, key: string): AnalyticsAdminServiceClient {
  return new AnalyticsAdminServiceClient(restOptions(port, key));
}

export function adminBetaClient(
  port: number,
  key: string,
): InstanceType<typeof adminV1beta.AnalyticsAdminServiceClient> {
  return new adminV1beta.AnalyticsAdminServiceClient(restOptions(port, key));
}
