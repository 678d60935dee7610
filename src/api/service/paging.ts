// List paging shared by every List RPC: page sizes clamped as each RPC documents, and opaque page
// tokens bound to the query that produced them (reusing one with other parameters is
// INVALID_ARGUMENT, as AIP-158 asks).

import { createHash } from 'node:crypto';
import { errors } from '../../domain/errors.ts';

export interface PageRequest {
  pageSize?: unknown;
  pageToken?: unknown;
}

export interface PageSpec {
  /** Size when pageSize is 0 or absent. */
  defaultSize: number;
  /** Larger sizes are lowered to this (coerced, not rejected). */
  maxSize: number;
  /** What the token is bound to: the list's parent and any filter. */
  binding: string;
}

export interface Page {
  size: number;
  offset: number;
  /** Token for the page after this one, if any rows remain. */
  next(total: number): string | undefined;
}

function fingerprint(binding: string): string {
  return createHash('sha256').update(binding).digest('base64url').slice(0, 12);
}

export function parsePage(req: PageRequest, spec: PageSpec): Page {
  const raw =
    req.pageSize === undefined || req.pageSize === null || req.pageSize === '' ? 0 : Number(req.pageSize);
  if (!Number.isInteger(raw) || raw < 0)
    throw errors.invalidField('page_size', 'must be a non-negative integer.');
  const size = raw === 0 ? spec.defaultSize : Math.min(raw, spec.maxSize);
  let offset = 0;
  const fp = fingerprint(spec.binding);
  if (typeof req.pageToken === 'string' && req.pageToken !== '') {
    const m = /^([A-Za-z0-9_-]{12})\.([0-9]{1,12})$/.exec(
      Buffer.from(req.pageToken, 'base64url').toString('utf8'),
    );
    if (!m || m[1] !== fp) {
      throw errors.invalidField(
        'page_token',
        'is not valid for this request (tokens are bound to the parameters of the call that returned them).',
      );
    }
    offset = Number(m[2]);
  } else if (req.pageToken !== undefined && req.pageToken !== null && req.pageToken !== '') {
    throw errors.invalidField('page_token', 'must be a string.');
  }
  return {
    size,
    offset,
    next: (total) =>
      offset + size < total ? Buffer.from(`${fp}.${offset + size}`).toString('base64url') : undefined,
  };
}

/** Applies a page to an already ordered array. */
export function pageOf<T>(items: T[], page: Page): { items: T[]; nextPageToken?: string } {
  const slice = items.slice(page.offset, page.offset + page.size);
  const nextPageToken = page.next(items.length);
  return nextPageToken ? { items: slice, nextPageToken } : { items: slice };
}
