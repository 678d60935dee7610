// Resource-name parsing. IDs are positive decimal integers, as Google's are; anything else is a
// clear INVALID_ARGUMENT naming the field.

import { errors } from './errors.ts';

const ID = '([1-9][0-9]{0,17})';
const PATTERNS = {
  account: new RegExp(`^accounts/${ID}$`),
  property: new RegExp(`^properties/${ID}$`),
  dataStream: new RegExp(`^properties/${ID}/dataStreams/${ID}$`),
  mpSecret: new RegExp(`^properties/${ID}/dataStreams/${ID}/measurementProtocolSecrets/${ID}$`),
  audience: new RegExp(`^properties/${ID}/audiences/${ID}$`),
  audienceExport: new RegExp(`^properties/${ID}/audienceExports/${ID}$`),
  audienceList: new RegExp(`^properties/${ID}/audienceLists/${ID}$`),
  recurringAudienceList: new RegExp(`^properties/${ID}/recurringAudienceLists/${ID}$`),
} as const;

export type ResourceKind = keyof typeof PATTERNS;

/** The numeric ids in a resource name, outermost first; throws INVALID_ARGUMENT naming `field`. */
export function parseName(kind: ResourceKind, name: unknown, field: string): number[] {
  const m = typeof name === 'string' ? PATTERNS[kind].exec(name) : null;
  if (!m) {
    const shape = PATTERNS[kind].source.replace(/\(\[1-9\]\[0-9\]\{0,17\}\)/g, '{id}').replace(/[\^$]/g, '');
    throw errors.invalidField(
      field,
      `must be a resource name of the form ${shape} (got ${JSON.stringify(name)}).`,
    );
  }
  return m.slice(1).map(Number);
}

export function parseProperty(name: unknown, field = 'parent'): number {
  return parseName('property', name, field)[0]!;
}
