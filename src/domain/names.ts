// Resource-name parsing. IDs are positive decimal integers, as Google's are; anything else is a
// clear INVALID_ARGUMENT naming the field.

import { errors } from './errors.ts';

const ID = '([1-9][0-9]{0,17})';
/** Resource name templates; `{id}` is a positive decimal id. */
const TEMPLATES = {
  account: 'accounts/{id}',
  property: 'properties/{id}',
  dataStream: 'properties/{id}/dataStreams/{id}',
  mpSecret: 'properties/{id}/dataStreams/{id}/measurementProtocolSecrets/{id}',
  audience: 'properties/{id}/audiences/{id}',
  audienceExport: 'properties/{id}/audienceExports/{id}',
  audienceList: 'properties/{id}/audienceLists/{id}',
  recurringAudienceList: 'properties/{id}/recurringAudienceLists/{id}',
} as const;

export type ResourceKind = keyof typeof TEMPLATES;

// The templates hold only letters, '/' and '{id}', so nothing needs escaping.
const PATTERNS = Object.fromEntries(
  Object.entries(TEMPLATES).map(([kind, t]) => [kind, new RegExp(`^${t.replaceAll('{id}', ID)}$`)]),
) as Record<ResourceKind, RegExp>;

/** The numeric ids in a resource name, outermost first; throws INVALID_ARGUMENT naming `field`. */
export function parseName(kind: ResourceKind, name: unknown, field: string): number[] {
  const m = typeof name === 'string' ? PATTERNS[kind].exec(name) : null;
  if (!m) {
    throw errors.invalidField(
      field,
      `must be a resource name of the form ${TEMPLATES[kind]} (got ${JSON.stringify(name)}).`,
    );
  }
  return m.slice(1).map(Number);
}

export function parseProperty(name: unknown, field = 'parent'): number {
  return parseName('property', name, field)[0]!;
}
