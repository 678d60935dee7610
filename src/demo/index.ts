// `audex demo`: the server of `audex serve`, plus, on a data folder without properties, a demo shop
// property with several weeks of synthetic traffic and a handful of audiences (seeded through the
// public API with the operator key), and instructions for exporting an audience.

import type { AudexApp } from '../server/app.ts';
import { KeyService } from '../auth/keys.ts';
import { AudienceRepository } from '../catalog/repos/audiences.ts';
import { PropertyRepository } from '../catalog/repos/properties.ts';
import { seedDemo, type DemoInfo } from './setup.ts';

export interface DemoKey {
  /** The operator key text, when this process knows it. */
  key: string | null;
  /** Where it came from, for the instructions. */
  source: 'generated' | 'AUDEX_ADMIN_KEY' | 'unknown';
}

/**
 * Seeds the demo when the data folder has no property yet; returns null (and seeds nothing) otherwise.
 * Without a known operator key (keys exist but AUDEX_ADMIN_KEY is unset), a temporary operator key
 * is created for the setup and revoked afterwards.
 */
export async function prepareDemo(
  app: AudexApp,
  operator: DemoKey,
  log: (line: string) => void = (l) => process.stdout.write(l + '\n'),
): Promise<DemoInfo | null> {
  if (await new PropertyRepository(app.catalog).any()) {
    log('audex demo: the data folder already has properties; serving it as it is.');
    return null;
  }
  let key = operator.key;
  let temporary: { keys: KeyService; id: number } | null = null;
  if (!key) {
    const keys = new KeyService(app.catalog);
    const created = await keys.create({ displayName: 'demo setup (revoked after setup)', superuser: true });
    key = created.key;
    temporary = { keys, id: created.id };
  }
  const started = Date.now();
  log('audex demo: creating the demo shop property, its history and audiences…');
  try {
    const info = await seedDemo({ url: app.url, key, log: (l) => log(`  ${l}`) });
    log(`audex demo: ready in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    return info;
  } finally {
    if (temporary) await temporary.keys.revoke(temporary.id);
  }
}

/** The demo of a data folder seeded earlier (the first "Demo shop" property), for the instructions. */
export async function findDemo(app: AudexApp): Promise<DemoSummary | null> {
  const properties = new PropertyRepository(app.catalog);
  const p = await properties.firstByDisplayName('Demo shop');
  if (!p) return null;
  const [stream] = await properties.listStreams(p.id);
  const [secret] = stream ? await properties.listSecrets(stream.id) : [];
  // The audiences the demo created: not the built-ins every property has.
  const audiences = (await new AudienceRepository(app.catalog).listActive(p.id)).filter(
    (a) => a.builtin === null,
  );
  if (!stream || audiences.length === 0) return null;
  return {
    property: `properties/${p.id}`,
    stream: `properties/${p.id}/dataStreams/${stream.id}`,
    measurementId: stream.measurement_id,
    apiSecret: secret?.secret_value ?? '',
    audiences: audiences.map((a) => ({
      name: `properties/${p.id}/audiences/${a.id}`,
      displayName: a.display_name,
    })),
  };
}

/** DemoInfo without the seeding counts (known only on the start that seeded it). */
export type DemoSummary = Omit<DemoInfo, 'importedRows' | 'mpEvents'> &
  Partial<Pick<DemoInfo, 'importedRows' | 'mpEvents'>>;

export function demoInstructions(
  info: DemoSummary,
  app: { url: string; port: number },
  operator: DemoKey,
  dataDir = './audex-data',
): string {
  const host = new URL(app.url).hostname;
  const key = operator.key ?? '<operator key>';
  const where =
    operator.source === 'generated'
      ? 'It was generated on this first start and is printed above (only once).'
      : operator.source === 'AUDEX_ADMIN_KEY'
        ? 'It is the value of AUDEX_ADMIN_KEY.'
        : `Use the operator key printed when this data folder was first served, set AUDEX_ADMIN_KEY, or mint one with \`audex operator-key create --data ${dataDir}\`.`;
  const audience = info.audiences[0]!;
  const lines: string[] = [];
  lines.push(
    '',
    `Demo property: ${info.property} "Demo shop" (Europe/Berlin, EUR)`,
    `  web stream ${info.stream}, measurement id ${info.measurementId}, MP api_secret ${info.apiSecret}`,
    ...(info.importedRows !== undefined
      ? [
          `  ${info.importedRows} imported events (GA4 BigQuery-export rows) and ${info.mpEvents ?? 0} recent events via /mp/collect`,
        ]
      : []),
    '',
    'Audiences:',
    ...info.audiences.map((a) => `  ${a.name.padEnd(28)} ${a.displayName}`),
    '',
    `Operator key: ${key}`,
    `  ${where}`,
    '',
    '── Export an audience with curl ──',
    `export AUDEX_KEY=${key}`,
    `EXPORT=$(curl -s -X POST ${app.url}/v1beta/${info.property}/audienceExports \\`,
    `  -H "Authorization: Bearer $AUDEX_KEY" -H 'content-type: application/json' \\`,
    `  -d '{"audience":"${audience.name}","dimensions":[{"dimensionName":"deviceId"},{"dimensionName":"userId"}]}' \\`,
    `  | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).response.name')   # the Operation's response.name`,
    `curl -s ${app.url}/v1beta/$EXPORT -H "Authorization: Bearer $AUDEX_KEY"   # repeat until "state": "ACTIVE"`,
    `curl -s -X POST ${app.url}/v1beta/$EXPORT:query \\`,
    `  -H "Authorization: Bearer $AUDEX_KEY" -H 'content-type: application/json' -d '{"offset":"0","limit":"100"}'`,
    '',
    '── With the CLI ──',
    `export AUDEX_SERVER=${app.url} AUDEX_KEY=${key}`,
    `EXPORT=$(npx audex exports create --audience ${audience.name} --dimensions deviceId,userId --wait)`,
    `npx audex exports query $EXPORT --limit 20`,
    `npx audex exports download $EXPORT --format csv --out cart-abandoners.csv   # or ndjson, parquet`,
    '',
    '── With the official client (@google-analytics/data, REST mode) ──',
    `import { BetaAnalyticsDataClient } from '@google-analytics/data';`,
    `import { OAuth2Client } from 'google-auth-library';`,
    `const authClient = new OAuth2Client();`,
    `authClient.setCredentials({ access_token: '${key}' });`,
    `const data = new BetaAnalyticsDataClient({`,
    `  fallback: true, apiEndpoint: '${host}', port: ${app.port}, protocol: 'http', authClient,`,
    `});`,
    `const [operation] = await data.createAudienceExport({`,
    `  parent: '${info.property}',`,
    `  audienceExport: { audience: '${audience.name}', dimensions: [{ dimensionName: 'deviceId' }] },`,
    `});`,
    `// Waits until ACTIVE (GET /v1/operations/…, an audex extension; with Google, poll getAudienceExport).`,
    `const [exp] = await operation.promise();`,
    `const [res] = await data.queryAudienceExport({ name: exp.name, offset: 0, limit: 10000 });`,
    `console.log(exp.name, res.rowCount, res.audienceRows.map((r) => r.dimensionValues[0].value));`,
    '',
  );
  return lines.join('\n') + '\n';
}
