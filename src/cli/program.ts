// Shared pieces of the `audex` command tree (commander): client options, argument checks that
// name the one wrong thing, and the output of results. Usage errors exit 2 and print the usage of
// the command they belong to; API errors exit 1.

import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { loadClientConfig } from '../config/config.ts';
import { AudexClient } from './client.ts';

/** What every client command gets from its options. */
export interface ClientOptions {
  server?: string;
  key?: string;
  json?: boolean;
}

export function serverUrl(value: string): string {
  if (!/^https?:\/\/[^/\s]+/i.test(value))
    throw new InvalidArgumentError('the server URL needs a scheme, like http://127.0.0.1:8080.');
  return value;
}

/** A resource-name check for an option or argument, e.g. resourceName('audience', 'properties/P/audiences/A'). */
export function resourceName(kind: string, pattern: RegExp, shape: string): (value: string) => string {
  return (value) => {
    if (!pattern.test(value)) throw new InvalidArgumentError(`the ${kind} name is malformed (${shape}).`);
    return value;
  };
}

export const names = {
  property: resourceName('property', /^properties\/\d+$/, 'properties/P'),
  stream: resourceName('data stream', /^properties\/\d+\/dataStreams\/\d+$/, 'properties/P/dataStreams/S'),
  secret: resourceName(
    'secret',
    /^properties\/\d+\/dataStreams\/\d+\/measurementProtocolSecrets\/[^/]+$/,
    'properties/P/dataStreams/S/measurementProtocolSecrets/ID',
  ),
  audience: resourceName('audience', /^properties\/\d+\/audiences\/\d+$/, 'properties/P/audiences/A'),
  audienceExport: resourceName(
    'audience export',
    /^properties\/\d+\/audienceExports\/[^/:]+$/,
    'properties/P/audienceExports/E',
  ),
  audienceList: resourceName(
    'audience list',
    /^properties\/\d+\/audienceLists\/[^/:]+$/,
    'properties/P/audienceLists/L',
  ),
  recurringList: resourceName(
    'recurring audience list',
    /^properties\/\d+\/recurringAudienceLists\/[^/:]+$/,
    'properties/P/recurringAudienceLists/R',
  ),
  key: resourceName('key', /^keys\/[^/:]+$/, 'keys/ID'),
};

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `must be an integer >= ${min}.`
          : `must be an integer from ${min} to ${max}.`,
      );
    return Number(value);
  };
}

export function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!choices.includes(value as T)) throw new InvalidArgumentError(`must be one of ${choices.join('|')}.`);
    return value as T;
  };
}

/** A subcommand that talks to a server: --server, --key and --json. */
export function clientCommand(parent: Command, nameAndArgs: string, description: string): Command {
  return parent
    .command(nameAndArgs)
    .description(description)
    .addOption(
      new Option(
        '--server <url>',
        'audex server (env AUDEX_SERVER, default http://127.0.0.1:8080)',
      ).argParser(serverUrl),
    )
    .addOption(new Option('--key <key>', 'API key (env AUDEX_KEY)'))
    .option('--json', 'print the API response as JSON (for scripts)');
}

/** The API client of a command; a malformed AUDEX_SERVER is a usage error like a malformed --server. */
export function clientOf(cmd: Command): AudexClient {
  const opts = cmd.opts<ClientOptions>();
  const c = loadClientConfig({ server: opts.server, key: opts.key });
  if (opts.server === undefined && !/^https?:\/\/[^/\s]+/i.test(c.server))
    cmd.error(`AUDEX_SERVER "${c.server}" needs a scheme, like http://127.0.0.1:8080.`, {
      exitCode: 2,
      code: 'audex.usage',
    });
  return new AudexClient(c.server, c.key || undefined);
}

/** Reports a usage error of `cmd`: the message, then that command's usage; exit code 2. */
export function usageError(cmd: Command, message: string): never {
  cmd.error(message, { exitCode: 2, code: 'audex.usage' });
}

/** Prints `data` as JSON under --json, else runs the human-readable printer. */
export function output(cmd: Command, data: unknown, human: () => void): void {
  if (cmd.opts<ClientOptions>().json) process.stdout.write(JSON.stringify(data, null, 2) + '\n');
  else human();
}

export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

/** The process exit code an action asks for (commander actions return nothing). */
export function setExit(code: number): void {
  if (code > ((process.exitCode as number | undefined) ?? 0)) process.exitCode = code;
}

const SHAPES: Record<string, string> = {
  property: 'properties/P',
  audience: 'properties/P/audiences/A',
  'audience-export': 'properties/P/audienceExports/E',
  'audience-list': 'properties/P/audienceLists/L',
  'recurring-list': 'properties/P/recurringAudienceLists/R',
  key: 'keys/ID',
};

/** A required resource-name argument, checked while parsing (a malformed one is a usage error). */
export function nameArgument(name: string, parser: (value: string) => string): Argument {
  return new Argument(`<${name}>`, SHAPES[name] ?? '').argParser(parser);
}
