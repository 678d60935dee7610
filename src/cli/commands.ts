// The `audex` command tree (commander), built fresh for each run and for the tests that walk it.

import { Command } from 'commander';
import {
  registerAudiences,
  registerKeys,
  registerProperties,
  registerSecrets,
  registerStreams,
} from './admin-commands.ts';
import { registerExports } from './exports.ts';
import { registerImport } from './import.ts';
import { registerAudienceLists, registerRecurringLists } from './lists.ts';
import { registerServer } from './server-commands.ts';

export function buildProgram(): Command {
  const program = new Command('audex')
    .description('self-hosted GA4 audiences and audience exports')
    .usage('<command> [options]')
    // Settings first: subcommands inherit them.
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(`audex: ${str.replace(/^error: /, '')}`) })
    .addHelpText(
      'after',
      `
Client commands take --server (AUDEX_SERVER, default http://127.0.0.1:8080), --key (AUDEX_KEY)
and --json. \`audex <command> --help\` shows a command's options and examples.

A first task:
  audex properties create --name "My shop"
  audex streams create --property properties/1 --name Web --uri https://shop.example
  audex secrets create --stream properties/1/dataStreams/1
  audex audiences create --property properties/1 --file cart-abandoners.json
  audex exports create --audience properties/1/audiences/3 --wait
  audex exports download properties/1/audienceExports/1 --format csv --out members.csv
`,
    );
  registerServer(program);
  registerProperties(program);
  registerStreams(program);
  registerSecrets(program);
  registerAudiences(program);
  registerExports(program);
  registerAudienceLists(program);
  registerRecurringLists(program);
  registerKeys(program);
  registerImport(program);
  return program;
}
