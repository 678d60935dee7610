// `audex audience-lists|recurring-lists`: clients of the Data API v1alpha audience lists (one-off,
// like exports) and recurring audience lists (one list per day, optional webhook).

import { Option, type Command } from 'commander';
import { cell, printTable } from './output.ts';
import {
  clientCommand,
  clientOf,
  examples,
  integer,
  nameArgument,
  names,
  output,
  usageError,
} from './program.ts';
import {
  DIMENSION_NAMES,
  MAX_QUERY_LIMIT,
  dimensionList,
  dimensionsOf,
  propertyOf,
  reportFinal,
  stateName,
  waitAndReport,
  type AudienceExportJson,
  type QueryResponseJson,
} from './exports.ts';

type Json = Record<string, unknown>;
const str = cell;

function audienceOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--audience <audience>', 'properties/P/audiences/A')
        .argParser(names.audience)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--dimensions <list>', `comma-separated: ${DIMENSION_NAMES.join(', ')}`)
        .argParser(dimensionList)
        .default(['deviceId'], 'deviceId'),
    );
}

async function listAll(cmd: Command, path: string, field: string): Promise<Json[]> {
  const api = clientOf(cmd);
  const all: Json[] = [];
  let token = '';
  do {
    const page = await api.call<Json>(
      'GET',
      `${path}?pageSize=1000${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`,
    );
    all.push(...((page[field] as Json[] | undefined) ?? []));
    token = str(page.nextPageToken);
  } while (token);
  return all;
}

export function registerAudienceLists(program: Command): void {
  const lists = program
    .command('audience-lists')
    .description('audience lists (Data API v1alpha): one-off snapshots of an audience');
  audienceOptions(clientCommand(lists, 'create', 'create an audience list'))
    .option('--wait', "poll until ACTIVE or FAILED, showing the job's phases; exit 1 if it FAILED")
    .addOption(new Option('--timeout <seconds>', 'give up waiting after this long').argParser(integer(1)))
    .addHelpText('after', examples('audex audience-lists create --audience properties/1/audiences/3 --wait'))
    .action(
      async (
        o: { audience: string; dimensions: string[]; wait?: boolean; timeout?: number; json?: boolean },
        cmd: Command,
      ) => {
        const api = clientOf(cmd);
        const property = propertyOf(o.audience)!;
        const op = await api.call<{ response?: { name?: string } }>(
          'POST',
          `/v1alpha/${property}/audienceLists`,
          {
            audience: o.audience,
            dimensions: o.dimensions.map((dimensionName) => ({ dimensionName })),
          },
        );
        const name = op.response?.name;
        if (!name) throw new Error(`the server's operation has no response.name: ${JSON.stringify(op)}`);
        if (!o.wait) {
          output(cmd, op, () => process.stdout.write(name + '\n'));
          return;
        }
        if (!o.json) process.stdout.write(name + '\n');
        const final = await waitAndReport(
          cmd,
          name,
          (n) => api.call<AudienceExportJson>('GET', `/v1alpha/${n}`),
          o.timeout,
        );
        reportFinal(cmd, name, final);
      },
    );
  clientCommand(lists, 'get', 'show an audience list')
    .addArgument(nameArgument('audience-list', names.audienceList))
    .action(async (name: string, _o, cmd: Command) => {
      const res = await clientOf(cmd).call<Json>('GET', `/v1alpha/${name}`);
      output(cmd, res, () =>
        printTable(
          ['FIELD', 'VALUE'],
          Object.entries(res).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : str(v)]),
        ),
      );
    });
  clientCommand(lists, 'list', 'list the audience lists of a property')
    .addOption(
      new Option('--property <property>', 'properties/P').argParser(names.property).makeOptionMandatory(),
    )
    .action(async (o: { property: string }, cmd: Command) => {
      const all = await listAll(cmd, `/v1alpha/${o.property}/audienceLists`, 'audienceLists');
      output(cmd, { audienceLists: all }, () =>
        printTable(
          ['NAME', 'AUDIENCE', 'STATE', 'ROWS', 'CREATED'],
          all.map((l) => [
            str(l.name),
            str(l.audience),
            stateName(l.state as string | number | undefined),
            str(l.rowCount),
            str(l.beginCreatingTime),
          ]),
        ),
      );
    });
  clientCommand(lists, 'query', 'print rows of an ACTIVE audience list')
    .addArgument(nameArgument('audience-list', names.audienceList))
    .addOption(new Option('--offset <n>', 'first row (0-based)').argParser(integer(0)).default(0))
    .addOption(new Option('--limit <n>', 'rows to print').argParser(integer(1, MAX_QUERY_LIMIT)))
    .action(async (name: string, o: { offset: number; limit?: number }, cmd: Command) => {
      const res = await clientOf(cmd).call<QueryResponseJson & { audienceList?: AudienceExportJson }>(
        'POST',
        `/v1alpha/${name}:query`,
        { offset: String(o.offset), ...(o.limit !== undefined ? { limit: String(o.limit) } : {}) },
      );
      output(cmd, res, () => {
        const dims = dimensionsOf(res.audienceList);
        printTable(
          dims,
          (res.audienceRows ?? []).map((r) => dims.map((_, i) => r.dimensionValues?.[i]?.value ?? '')),
        );
        process.stderr.write(
          `${res.audienceRows?.length ?? 0} rows at offset ${o.offset} of ${res.rowCount ?? 0}\n`,
        );
      });
    });
}

export function registerRecurringLists(program: Command): void {
  const recurring = program
    .command('recurring-lists')
    .description('recurring audience lists (Data API v1alpha): a new audience list every day');
  audienceOptions(clientCommand(recurring, 'create', 'create a recurring audience list'))
    .addOption(
      new Option('--active-days <n>', 'days it keeps making lists (default: unlimited)').argParser(
        integer(1),
      ),
    )
    .option('--webhook <uri>', "HTTPS URI notified when each day's list is ready")
    .option('--channel-token <token>', 'sent with each webhook notification')
    .addHelpText(
      'after',
      examples(
        'audex recurring-lists create --audience properties/1/audiences/3 --webhook https://hooks.example/audex',
      ),
    )
    .action(
      async (
        o: {
          audience: string;
          dimensions: string[];
          activeDays?: number;
          webhook?: string;
          channelToken?: string;
        },
        cmd: Command,
      ) => {
        if (o.channelToken !== undefined && o.webhook === undefined)
          usageError(cmd, '--channel-token needs --webhook');
        const property = propertyOf(o.audience)!;
        const res = await clientOf(cmd).call<Json>('POST', `/v1alpha/${property}/recurringAudienceLists`, {
          audience: o.audience,
          dimensions: o.dimensions.map((dimensionName) => ({ dimensionName })),
          ...(o.activeDays !== undefined ? { activeDaysRemaining: o.activeDays } : {}),
          ...(o.webhook !== undefined
            ? {
                webhookNotification: {
                  uri: o.webhook,
                  ...(o.channelToken ? { channelToken: o.channelToken } : {}),
                },
              }
            : {}),
        });
        output(cmd, res, () => process.stdout.write(`Created ${str(res.name)}.\n`));
      },
    );
  clientCommand(recurring, 'get', 'show a recurring audience list and the lists it made')
    .addArgument(nameArgument('recurring-list', names.recurringList))
    .action(async (name: string, _o, cmd: Command) => {
      const res = await clientOf(cmd).call<Json>('GET', `/v1alpha/${name}`);
      output(cmd, res, () =>
        printTable(
          ['FIELD', 'VALUE'],
          Object.entries(res).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : str(v)]),
        ),
      );
    });
  clientCommand(recurring, 'list', 'list the recurring audience lists of a property')
    .addOption(
      new Option('--property <property>', 'properties/P').argParser(names.property).makeOptionMandatory(),
    )
    .action(async (o: { property: string }, cmd: Command) => {
      const all = await listAll(
        cmd,
        `/v1alpha/${o.property}/recurringAudienceLists`,
        'recurringAudienceLists',
      );
      output(cmd, { recurringAudienceLists: all }, () =>
        printTable(
          ['NAME', 'AUDIENCE', 'DAYS LEFT', 'LISTS'],
          all.map((r) => [
            str(r.name),
            str(r.audience),
            str(r.activeDaysRemaining),
            String(((r.audienceLists as unknown[] | undefined) ?? []).length),
          ]),
        ),
      );
    });
}
