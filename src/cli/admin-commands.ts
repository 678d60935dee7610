// `audex properties|streams|secrets|audiences|keys`: clients of the Admin API (v1beta / v1alpha
// paths, Google's JSON) and of audex's key API, one subcommand per RPC a first task needs.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { Option } from 'commander';
import { cell, printTable } from './output.ts';
import { clientCommand, clientOf, examples, nameArgument, names, output, usageError } from './program.ts';

type Json = Record<string, unknown>;
const str = cell;
const say = (line: string) => process.stdout.write(line + '\n');

/** Every page of a list RPC, following nextPageToken. */
async function listAll(cmd: Command, path: string, field: string): Promise<Json[]> {
  const api = clientOf(cmd);
  const all: Json[] = [];
  let token = '';
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api.call<Json>(
      'GET',
      `${path}${sep}pageSize=200${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`,
    );
    all.push(...((page[field] as Json[] | undefined) ?? []));
    token = str(page.nextPageToken);
  } while (token);
  return all;
}

function fieldTable(resource: Json): void {
  const rows = Object.entries(resource).map(([k, v]) => [
    k,
    typeof v === 'object' ? JSON.stringify(v) : str(v),
  ]);
  printTable(['FIELD', 'VALUE'], rows);
}

export function registerProperties(program: Command): void {
  const properties = program
    .command('properties')
    .description('GA4 properties (the operator key creates them)');
  clientCommand(properties, 'list', 'list the properties the key can see').action(
    async (_o, cmd: Command) => {
      const all = await listAll(cmd, '/v1beta/properties?filter=parent:accounts/1', 'properties');
      output(cmd, { properties: all }, () =>
        printTable(
          ['NAME', 'DISPLAY NAME', 'TIME ZONE', 'CURRENCY'],
          all.map((p) => [str(p.name), str(p.displayName), str(p.timeZone), str(p.currencyCode)]),
        ),
      );
    },
  );
  clientCommand(properties, 'create', 'create a property (operator key)')
    .requiredOption('--name <displayName>', 'display name')
    .option('--time-zone <zone>', 'IANA time zone of its reporting days', 'UTC')
    .option('--currency <code>', 'ISO 4217 currency code', 'USD')
    .addHelpText(
      'after',
      examples('audex properties create --name "My shop" --time-zone Europe/Berlin --currency EUR'),
    )
    .action(async (o: { name: string; timeZone: string; currency: string }, cmd: Command) => {
      const res = await clientOf(cmd).call<Json>('POST', '/v1beta/properties', {
        parent: 'accounts/1',
        displayName: o.name,
        timeZone: o.timeZone,
        currencyCode: o.currency,
      });
      output(cmd, res, () => say(`Created ${str(res.name)}.`));
    });
  clientCommand(properties, 'get', 'show one property')
    .addArgument(nameArgument('property', names.property))
    .action(async (name: string, _o, cmd: Command) => {
      const res = await clientOf(cmd).call<Json>('GET', `/v1beta/${name}`);
      output(cmd, res, () => fieldTable(res));
    });
  // A deleted property stays in the trash for 35 days (docs/privacy.md); only the operator restores it.
  clientCommand(properties, 'restore', 'take a deleted property out of the trash (operator key)')
    .addArgument(nameArgument('property', names.property))
    .addHelpText('after', examples('audex properties restore properties/1'))
    .action(async (name: string, _o, cmd: Command) => {
      const res = await clientOf(cmd).call<Json>('POST', `/audex/v1/${name}:restore`);
      output(cmd, res, () => say(`Restored ${str(res.name)}.`));
    });
}

export function registerStreams(program: Command): void {
  const streams = program
    .command('streams')
    .description('web data streams of a property (each has a G-… measurement id)');
  clientCommand(streams, 'list', 'list the data streams of a property')
    .requiredOption('--property <property>', 'properties/P', names.property)
    .action(async (o: { property: string }, cmd: Command) => {
      const all = await listAll(cmd, `/v1beta/${o.property}/dataStreams`, 'dataStreams');
      output(cmd, { dataStreams: all }, () =>
        printTable(
          ['NAME', 'DISPLAY NAME', 'MEASUREMENT ID', 'URI'],
          all.map((s) => {
            const web = (s.webStreamData ?? {}) as Json;
            return [str(s.name), str(s.displayName), str(web.measurementId), str(web.defaultUri)];
          }),
        ),
      );
    });
  clientCommand(streams, 'create', 'create a web data stream (admin)')
    .requiredOption('--property <property>', 'properties/P', names.property)
    .requiredOption('--name <displayName>', 'display name')
    .option('--uri <url>', 'the web site (webStreamData.defaultUri)')
    .addHelpText(
      'after',
      examples('audex streams create --property properties/1 --name Web --uri https://shop.example'),
    )
    .action(async (o: { property: string; name: string; uri?: string }, cmd: Command) => {
      const res = await clientOf(cmd).call<Json>('POST', `/v1beta/${o.property}/dataStreams`, {
        type: 'WEB_DATA_STREAM',
        displayName: o.name,
        ...(o.uri ? { webStreamData: { defaultUri: o.uri } } : {}),
      });
      const web = (res.webStreamData ?? {}) as Json;
      output(cmd, res, () => say(`Created ${str(res.name)} (measurement id ${str(web.measurementId)}).`));
    });
}

export function registerSecrets(program: Command): void {
  const secrets = program.command('secrets').description('Measurement Protocol API secrets of a data stream');
  clientCommand(secrets, 'list', 'list the secrets of a data stream')
    .requiredOption('--stream <stream>', 'properties/P/dataStreams/S', names.stream)
    .action(async (o: { stream: string }, cmd: Command) => {
      const all = await listAll(
        cmd,
        `/v1beta/${o.stream}/measurementProtocolSecrets`,
        'measurementProtocolSecrets',
      );
      output(cmd, { measurementProtocolSecrets: all }, () =>
        printTable(
          ['NAME', 'DISPLAY NAME', 'SECRET'],
          all.map((s) => [str(s.name), str(s.displayName), str(s.secretValue)]),
        ),
      );
    });
  clientCommand(secrets, 'create', 'create a Measurement Protocol secret (admin)')
    .requiredOption('--stream <stream>', 'properties/P/dataStreams/S', names.stream)
    .option('--name <displayName>', 'display name', 'audex')
    .addHelpText('after', examples('audex secrets create --stream properties/1/dataStreams/2 --name server'))
    .action(async (o: { stream: string; name: string }, cmd: Command) => {
      const res = await clientOf(cmd).call<Json>('POST', `/v1beta/${o.stream}/measurementProtocolSecrets`, {
        displayName: o.name,
      });
      output(cmd, res, () => say(`Created ${str(res.name)}; api_secret=${str(res.secretValue)}`));
    });
}

async function readJsonInput(cmd: Command, file: string): Promise<unknown> {
  let text: string;
  try {
    if (file === '-') {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      text = Buffer.concat(chunks).toString('utf8');
    } else text = await readFile(file, 'utf8');
  } catch (err) {
    usageError(cmd, `--file ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    usageError(cmd, `--file ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

export function registerAudiences(program: Command): void {
  const audiences = program.command('audiences').description('GA4 audiences (Admin API v1alpha)');
  clientCommand(audiences, 'list', 'list the audiences of a property')
    .requiredOption('--property <property>', 'properties/P', names.property)
    .action(async (o: { property: string }, cmd: Command) => {
      const all = await listAll(cmd, `/v1alpha/${o.property}/audiences`, 'audiences');
      output(cmd, { audiences: all }, () =>
        printTable(
          ['NAME', 'DISPLAY NAME', 'DAYS'],
          all.map((a) => [str(a.name), str(a.displayName), str(a.membershipDurationDays)]),
        ),
      );
    });
  clientCommand(audiences, 'get', 'show one audience (its definition as JSON)')
    .addArgument(nameArgument('audience', names.audience))
    .action(async (name: string, _o, cmd: Command) => {
      const res = await clientOf(cmd).call<Json>('GET', `/v1alpha/${name}`);
      process.stdout.write(JSON.stringify(res, null, 2) + '\n');
    });
  clientCommand(audiences, 'create', 'create an audience from an Audience JSON file (docs/audiences.md)')
    .requiredOption('--property <property>', 'properties/P', names.property)
    .requiredOption('--file <file>', 'the Audience as JSON; - reads standard input')
    .addHelpText(
      'after',
      examples(
        'audex audiences create --property properties/1 --file cart-abandoners.json',
        'echo \'{"displayName":"Buyers",…}\' | audex audiences create --property properties/1 --file -',
      ),
    )
    .action(async (o: { property: string; file: string }, cmd: Command) => {
      const body = await readJsonInput(cmd, o.file);
      const res = await clientOf(cmd).call<Json>('POST', `/v1alpha/${o.property}/audiences`, body);
      output(cmd, res, () => say(`Created ${str(res.name)}.`));
    });
  clientCommand(audiences, 'archive', 'archive an audience (it can no longer be exported)')
    .addArgument(nameArgument('audience', names.audience))
    .action(async (name: string, _o, cmd: Command) => {
      const res = await clientOf(cmd).call<Json>('POST', `/v1alpha/${name}:archive`, {});
      output(cmd, res, () => say(`Archived ${name}.`));
    });
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('API keys bound to properties with a role');
  clientCommand(keys, 'create', 'create a key; it is printed once')
    .addOption(
      new Option('--property <property>', 'properties/P the key may use (repeatable)')
        .argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), names.property(v)])
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--role <role>', 'its role on those properties')
        .choices(['viewer', 'editor', 'admin'])
        .makeOptionMandatory(),
    )
    .option('--name <displayName>', 'display name', '')
    .addHelpText(
      'after',
      examples('audex keys create --property properties/1 --role viewer --name dashboards'),
    )
    .action(async (o: { property: string[]; role: string; name: string }, cmd: Command) => {
      const res = await clientOf(cmd).call<{ key: string; name: string }>('POST', '/audex/v1/keys', {
        displayName: o.name,
        bindings: o.property.map((property) => ({ property, role: o.role })),
      });
      output(cmd, res, () => say(`Created ${res.name}. The key is shown only this once:\n\n  ${res.key}`));
    });
  clientCommand(keys, 'list', 'list keys (never their secret part)').action(async (_o, cmd: Command) => {
    const res = await clientOf(cmd).call<{
      keys: {
        name: string;
        keyPrefix: string;
        displayName: string;
        superuser: boolean;
        revokeTime?: string;
        bindings: { property: string; role: string }[];
      }[];
    }>('GET', '/audex/v1/keys');
    output(cmd, res, () =>
      printTable(
        ['NAME', 'PREFIX', 'DISPLAY NAME', 'ACCESS', 'STATE'],
        res.keys.map((k) => [
          k.name,
          k.keyPrefix + '…',
          k.displayName,
          k.superuser ? 'superuser' : k.bindings.map((b) => `${b.property}:${b.role}`).join(' '),
          k.revokeTime ? `revoked ${k.revokeTime}` : 'active',
        ]),
      ),
    );
  });
  clientCommand(keys, 'revoke', 'revoke a key')
    .addArgument(nameArgument('key', names.key))
    .action(async (name: string, _o, cmd: Command) => {
      const res = await clientOf(cmd).call<Json>('POST', `/audex/v1/${name}:revoke`, {});
      output(cmd, res, () => say(`Revoked ${name}.`));
    });
}
