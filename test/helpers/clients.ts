// The official Google clients pointed at a local audex, as lab-notes Q1 shows.

import * as grpc from '@grpc/grpc-js';
import { OAuth2Client } from 'google-auth-library';
import { AnalyticsAdminServiceClient } from '@google-analytics/admin';
import { v1beta as adminV1beta } from '@google-analytics/admin';
import { BetaAnalyticsDataClient, v1alpha } from '@google-analytics/data';

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

/** The official Data API client (v1beta, REST mode) pointed at a local audex. */
export function dataClient(port: number, key: string): BetaAnalyticsDataClient {
  return new BetaAnalyticsDataClient(restOptions(port, key));
}

/**
 * gRPC mode: plaintext on loopback. Over insecure channels the client attaches no credentials,
 * so the audex key travels as call metadata (grpcCall(key)). The OAuth2Client only stops the
 * client from probing the GCE metadata server.
 */
export function grpcOptions(port: number) {
  return {
    apiEndpoint: '127.0.0.1',
    port,
    sslCreds: grpc.credentials.createInsecure(),
    authClient: authFor('unused'),
  };
}

export function grpcCall(key: string) {
  return { otherArgs: { headers: { authorization: `Bearer ${key}` } } };
}

export function adminGrpcClient(port: number): AnalyticsAdminServiceClient {
  return new AnalyticsAdminServiceClient(grpcOptions(port));
}

export function dataGrpcClient(port: number): BetaAnalyticsDataClient {
  return new BetaAnalyticsDataClient(grpcOptions(port));
}

/**
 * The official v1alpha Data API client (AlphaAnalyticsDataClient; the package exports it only as
 * `v1alpha.AlphaAnalyticsDataClient`), REST mode.
 */
export function alphaDataClient(
  port: number,
  key: string,
): InstanceType<typeof v1alpha.AlphaAnalyticsDataClient> {
  return new v1alpha.AlphaAnalyticsDataClient(restOptions(port, key));
}

/** The v1alpha client in gRPC mode (the key goes as call metadata: grpcCall(key)). */
export function alphaDataGrpcClient(port: number): InstanceType<typeof v1alpha.AlphaAnalyticsDataClient> {
  return new v1alpha.AlphaAnalyticsDataClient(grpcOptions(port));
}
