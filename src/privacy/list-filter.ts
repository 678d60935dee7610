// The `filter` of ListProperties, required as in GA4 (ListPropertiesRequest.filter is REQUIRED).
// Forms per the proto: `parent:accounts/{id}`, `ancestor:accounts/{id}`, `parent:properties/{id}`
// (the subproperties of a property) and `firebase_project:{id or number}`. audex has one account,
// no subproperties and no Firebase links, so the last two are valid and match nothing.

import { errors } from '../domain/errors.ts';

export type PropertyListFilter = { kind: 'account'; accountId: number } | { kind: 'none' };

const FORMS =
  '"parent:accounts/{id}", "ancestor:accounts/{id}", "parent:properties/{id}" or "firebase_project:{id}"';

export function parsePropertyListFilter(filter: unknown): PropertyListFilter {
  if (filter === undefined || filter === null || (typeof filter === 'string' && filter.trim() === '')) {
    throw errors.invalidField('filter', `is required (${FORMS}).`);
  }
  if (typeof filter !== 'string') throw errors.invalidField('filter', 'must be a string.');
  const f = filter.trim();
  const account = /^(?:parent|ancestor):\s*accounts\/(\d{1,18})$/.exec(f);
  if (account) return { kind: 'account', accountId: Number(account[1]) };
  if (/^parent:\s*properties\/\d{1,18}$/.test(f)) return { kind: 'none' };
  if (/^firebase_project:\s*[A-Za-z0-9-]{1,64}$/.test(f)) return { kind: 'none' };
  throw errors.invalidField(
    'filter',
    `must be one of ${FORMS}; got ${JSON.stringify(filter.slice(0, 100))}.`,
  );
}
