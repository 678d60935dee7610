// Kysely's SQLite dialect, with a rollback that keeps the real error. SQLite rolls a transaction
// back by itself on some errors (SQLITE_FULL when the disk is full, SQLITE_IOERR, SQLITE_NOMEM);
// Kysely then sends ROLLBACK anyway, which fails with "cannot rollback - no transaction is active"
// and is thrown in place of the error that mattered, so a full disk became a 500 instead of
// UNAVAILABLE (src/domain/errors.ts maps SQLITE_FULL). Here ROLLBACK is skipped when SQLite says no
// transaction is open any more.

import type BetterSqlite3 from 'better-sqlite3';
import { SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver } from 'kysely';

class AutoRollbackAwareDriver extends SqliteDriver {
  constructor(private readonly sqlite: BetterSqlite3.Database) {
    super({ database: sqlite });
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.sqlite.inTransaction) await super.rollbackTransaction(connection);
  }
}

export class CatalogSqliteDialect extends SqliteDialect {
  constructor(private readonly sqlite: BetterSqlite3.Database) {
    super({ database: sqlite });
  }

  override createDriver(): Driver {
    return new AutoRollbackAwareDriver(this.sqlite);
  }
}
