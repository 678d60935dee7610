// The user-deletion journal in the catalog (table user_deletions): a SubmitUserDeletion request is
// journaled PENDING, with the id to delete, before it is acknowledged, and marked DONE with the id
// erased once every copy of the user's data is gone. Every catalog query about it is here; the
// rules (what is hashed, when a request is done) are in src/privacy/.

import type { CatalogDb } from '../db.ts';
import type { UserDeletionsTable } from '../schema.ts';

export type DeletionKind = UserDeletionsTable['kind'];

export interface PendingDeletionRow {
  id: number;
  property_id: number;
  kind: DeletionKind;
  subject: string | null;
  request_time: number;
  attempts: number;
}

export class UserDeletionRepository {
  constructor(private readonly db: CatalogDb) {}

  /** A PENDING request; its id. */
  async insert(d: {
    propertyId: number;
    kind: DeletionKind;
    subject: string;
    subjectHash: string;
    requestTime: number;
  }): Promise<number> {
    const row = await this.db
      .insertInto('user_deletions')
      .values({
        property_id: d.propertyId,
        kind: d.kind,
        subject: d.subject,
        subject_hash: d.subjectHash,
        request_time: d.requestTime,
        state: 'PENDING',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** Requests not done yet, oldest first. */
  async pending(): Promise<PendingDeletionRow[]> {
    return this.db
      .selectFrom('user_deletions')
      .select(['id', 'property_id', 'kind', 'subject', 'request_time', 'attempts'])
      .where('state', '=', 'PENDING')
      .orderBy('id')
      .execute();
  }

  /** DONE: the id to delete is erased, the count of deleted events kept. */
  async markDone(id: number, now: number, events: number): Promise<void> {
    await this.db
      .updateTable('user_deletions')
      .set({ state: 'DONE', subject: null, done_time: now, events_deleted: events, last_error: null })
      .where('id', '=', id)
      .execute();
  }

  /** One more failed attempt, with its error (at most 1,000 characters). */
  async markFailed(id: number, error: string): Promise<void> {
    await this.db
      .updateTable('user_deletions')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error.slice(0, 1000) }))
      .where('id', '=', id)
      .execute();
  }
}
