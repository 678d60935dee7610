// The event histories of the worked examples E1–E12 (docs/audiences.md §9), in one place: the
// reference evaluator's tests (src/audience/reference/evaluate.test.ts) and the engine's
// (test/audience-examples.duckdb.test.ts) both read them. A function per example, so each caller
// gets fresh events with ingest_seq from audience-events.ts's counter (creation order).

import type { StoredEvent } from '../../src/domain/event.ts';
import { ev } from './audience-events.ts';

const loc = (path: string) => ({ params: { page_location: `https://x.com${path}` } });

export const EXAMPLE_HISTORIES = {
  E1: (): StoredEvent[] => [
    ev('u1', 'purchase', '2024-05-20T10:00'),
    ev('u2', 'page_view', '2024-05-25'),
    ev('u3', 'purchase', '2024-04-10'),
    ev('u4', 'purchase', '2024-05-10'),
    ev('u4', 'purchase', '2024-06-05'),
  ],
  E2: (): StoredEvent[] => [
    ev('u1', 'page_view', '2024-06-03T10:00', loc('/pricing/team')),
    ev('u2', 'page_view', '2024-06-03T10:00', { session: 1, ...loc('/home') }),
    ev('u2', 'scroll', '2024-06-03T10:01', { session: 1, ...loc('/pricing') }),
    ev('u3', 'page_view', '2024-06-03T10:00', loc('/PRICING')),
  ],
  E3: (): StoredEvent[] => [
    ev('u1', 'add_to_cart', '2024-06-02T10:00', { session: 1 }),
    ev('u1', 'begin_checkout', '2024-06-02T10:10', { session: 1 }),
    ev('u2', 'add_to_cart', '2024-06-02T10:00', { session: 1 }),
    ev('u2', 'begin_checkout', '2024-06-03T10:00', { session: 2 }),
    ev('u3', 'begin_checkout', '2024-06-02T09:00', { session: 1 }),
    ev('u3', 'add_to_cart', '2024-06-02T09:05', { session: 1 }),
  ],
  E4: (): StoredEvent[] => [
    ev('u1', 'add_to_cart', '2024-06-02'),
    ev('u2', 'add_to_cart', '2024-06-02'),
    ev('u2', 'purchase', '2024-06-04'),
    ev('u3', 'purchase', '2024-05-10'),
    ev('u3', 'add_to_cart', '2024-06-03'),
  ],
  E5: (): StoredEvent[] => [
    ev('u2', 'add_to_cart', '2024-06-02T10:00', { session: 1 }),
    ev('u2', 'purchase', '2024-06-02T10:20', { session: 1 }),
    ev('u2', 'add_to_cart', '2024-06-06T09:00', { session: 2 }),
    ev('u2', 'page_view', '2024-06-06T09:05', { session: 2 }),
    ev('u3', 'purchase', '2024-05-10', { session: 1 }),
    ev('u3', 'add_to_cart', '2024-06-03', { session: 2 }),
  ],
  E6: (): StoredEvent[] => [
    ev('u1', 'view_item', '2024-06-02T10:00'),
    ev('u1', 'add_to_cart', '2024-06-02T10:05'),
    ev('u2', 'view_item', '2024-06-02T10:00'),
    ev('u2', 'page_view', '2024-06-02T10:01'),
    ev('u2', 'add_to_cart', '2024-06-02T10:05'),
    ev('u3', 'view_item', '2024-06-02T10:00'),
    ev('u3', 'add_to_cart', '2024-06-02T10:45'),
    ev('u4', 'view_item', '2024-06-02T10:00'),
    ev('u4', 'page_view', '2024-06-02T10:01'),
    ev('u4', 'view_item', '2024-06-02T10:02'),
    ev('u4', 'add_to_cart', '2024-06-02T10:03'),
  ],
  E7: (): StoredEvent[] => [
    ev('u1', 'sign_up', '2024-05-20', { session: 1 }),
    ev('u1', 'purchase', '2024-05-25', { session: 2, params: { value: 50 } }),
    ev('u2', 'sign_up', '2024-05-10'),
    ev('u2', 'purchase', '2024-05-20', { params: { value: 50 } }),
    ev('u3', 'purchase', '2024-05-12', { params: { value: 50 } }),
    ev('u3', 'sign_up', '2024-05-14'),
    ev('u4', 'sign_up', '2024-05-20'),
    ev('u4', 'purchase', '2024-05-21', { params: { value: 15 } }),
    ev('u4', 'purchase', '2024-05-26', { params: { value: 25 } }),
  ],
  E8: (): StoredEvent[] => [
    ev('u1', 'purchase', '2024-05-10', { params: { currency: 'USD' } }),
    ev('u1', 'purchase', '2024-05-15', { params: { currency: 'EUR' } }),
    ev('u1', 'purchase', '2024-05-30', { params: { currency: 'EUR' } }),
    ev('u2', 'purchase', '2024-05-10', { params: { currency: 'EUR' } }),
    ev('u2', 'purchase', '2024-05-15', { params: { currency: 'EUR' } }),
  ],
  /** E9 (dynamic) and E9B (static) share it. */
  E9: (): StoredEvent[] => [
    ev('u1', 'page_view', '2024-05-20T12:00'),
    ev('u1', 'page_view', '2024-05-21T12:00'),
    ev('u1', 'page_view', '2024-05-22T12:00'),
    ev('u2', 'page_view', '2024-06-04T12:00'),
    ev('u2', 'page_view', '2024-06-06T12:00'),
    ev('u2', 'page_view', '2024-06-09T12:00'),
  ],
  /** E10 (dynamic) and E10S (static) share it. */
  E10: (): StoredEvent[] => [
    ev('u1', 'page_view', '2024-05-27', { geo_country_id: 'US' }),
    ev('u1', 'page_view', '2024-06-03', { geo_country_id: 'CA' }),
    ev('u2', 'page_view', '2024-06-02', { geo_country_id: 'US' }),
    ev('u3', 'page_view', '2024-06-02', { geo_country_id: 'CA' }),
  ],
  E11: (): StoredEvent[] => [
    ev('u1', 'page_view', '2024-06-03', { userProps: { plan: 'Pro' }, device_category: 'desktop' }),
    ev('u2', 'page_view', '2024-06-01', { userProps: { plan: 'pro' }, device_category: 'mobile' }),
    ev('u2', 'page_view', '2024-06-03', { userProps: { plan: 'pro' }, device_category: 'mobile' }),
    ev('u3', 'page_view', '2024-06-03', { userProps: { plan: 'free' }, device_category: 'desktop' }),
    ev('u4', 'page_view', '2024-05-20', { userProps: { plan: 'pro' }, device_category: 'mobile' }),
    ev('u4', 'page_view', '2024-06-02', { userProps: { plan: 'pro' }, device_category: 'desktop' }),
    ev('u5', 'page_view', '2024-05-20', { userProps: { plan: 'pro' }, device_category: 'desktop' }),
    ev('u5', 'page_view', '2024-06-02', { userProps: { plan: 'free' }, device_category: 'desktop' }),
  ],
  E12: (): StoredEvent[] => [
    ev('u1', 'purchase', '2024-06-02T09:00', { session: 7, params: { value: 60 }, user_id: 'id-1' }),
    ev('u1', 'purchase', '2024-06-05T11:00', { session: 8, params: { value: 50 }, user_id: 'id-1' }),
    ev('u1', 'purchase', '2024-06-08T10:00', { session: 9, params: { value: 30 }, user_id: 'id-1' }),
    ev('u2', 'purchase', '2024-06-02', { params: { value: 120 } }),
    ev('u2', 'refund', '2024-06-03', { params: { value: 120 } }),
    ev('u3', 'purchase', '2024-06-02', { params: { value: 100 } }),
  ],
} as const;
