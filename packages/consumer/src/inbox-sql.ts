import type { Dialect, Tables } from '@onceflow/core';
import { dialectOf, tablesForDialect } from '@onceflow/core';
import type { Knex } from 'knex';
import { isDataError } from './pg-text.ts';
import { acquireLease, leaseState } from './sql/acquire-lease.ts';
import { deleteDeadLetters } from './sql/delete-dead-letters.ts';
import { deleteOldInboxRows } from './sql/delete-old-inbox-rows.ts';
import { noteGroupCommitted, noteGroupStarted } from './sql/group-note.ts';
import { insertDeadLetter } from './sql/insert-dead-letter.ts';
import { insertInboxRows } from './sql/insert-inbox-rows.ts';
import { insertRawDeadLetter } from './sql/insert-raw-dead-letter.ts';
import { markReplayed } from './sql/mark-replayed.ts';
import { selectConsumerStatus } from './sql/select-consumer-status.ts';
import { selectDeadLetters } from './sql/select-dead-letters.ts';
import { selectDone } from './sql/select-done.ts';
import { selectHistory } from './sql/select-history.ts';
import { assertNotAborted, betweenHandlers, markTransaction } from './sql/transaction-check.ts';
import { updateLease } from './sql/update-lease.ts';
import * as mysqlDeadLetters from './sql-mysql/dead-letters.ts';
import { deleteOldInboxRows as mysqlDeleteOldInboxRows } from './sql-mysql/delete-old-inbox-rows.ts';
import { isMysqlDataError } from './sql-mysql/errors.ts';
import * as mysqlGroupNote from './sql-mysql/group-note.ts';
import { insertInboxRows as mysqlInsertInboxRows } from './sql-mysql/insert-inbox-rows.ts';
import * as mysqlLease from './sql-mysql/lease.ts';
import { selectConsumerStatus as mysqlSelectConsumerStatus } from './sql-mysql/select-consumer-status.ts';
import { selectHistory as mysqlSelectHistory } from './sql-mysql/select-history.ts';
import * as mysqlCheck from './sql-mysql/transaction-check.ts';

/**
 * Every statement the consumer package runs, in the SQL of one dialect: the PostgreSQL files
 * in `sql/`, the MySQL and MariaDB ones in `sql-mysql/`, with the same signatures. Picked once
 * per component by {@link inboxSqlFor}; nothing else in the package asks which database it is.
 */
export interface InboxSql {
  readonly dialect: Dialect;
  readonly insertInboxRows: typeof insertInboxRows;
  /** Marks the inbox transaction before the handler runs, for {@link InboxSql.assertNotAborted}. */
  readonly markTransaction: typeof markTransaction;
  /** Fails when the inbox transaction can no longer commit what the handler did. */
  readonly assertNotAborted: typeof assertNotAborted;
  /**
   * Between two handlers of one transaction: fails as {@link InboxSql.assertNotAborted} does
   * where the next handler could otherwise write outside the transaction (MySQL).
   */
  readonly betweenHandlers: typeof betweenHandlers;
  /** Takes the side-effect lease: the new fencing token, or null when done or held. */
  acquireLease(knex: Knex, tables: Tables, consumer: string, dedupKey: string, leaseMs: number): Promise<number | null>;
  readonly leaseState: typeof leaseState;
  readonly updateLease: typeof updateLease;
  readonly selectDone: typeof selectDone;
  readonly insertDeadLetter: typeof insertDeadLetter;
  readonly insertRawDeadLetter: typeof insertRawDeadLetter;
  /** Whether the database refused a dead letter's data, so the raw dead letter is stored instead. */
  readonly isDataError: (error: unknown) => boolean;
  readonly selectDeadLetters: typeof selectDeadLetters;
  readonly markReplayed: typeof markReplayed;
  readonly deleteDeadLetters: typeof deleteDeadLetters;
  readonly deleteOldInboxRows: typeof deleteOldInboxRows;
  readonly noteGroupStarted: typeof noteGroupStarted;
  readonly noteGroupCommitted: typeof noteGroupCommitted;
  readonly selectHistory: typeof selectHistory;
  readonly selectConsumerStatus: typeof selectConsumerStatus;
}

const postgresSql: InboxSql = {
  dialect: 'postgres',
  insertInboxRows,
  markTransaction,
  assertNotAborted,
  betweenHandlers,
  acquireLease,
  leaseState,
  updateLease,
  selectDone,
  insertDeadLetter,
  insertRawDeadLetter,
  isDataError,
  selectDeadLetters,
  markReplayed,
  deleteDeadLetters,
  deleteOldInboxRows,
  noteGroupStarted,
  noteGroupCommitted,
  selectHistory,
  selectConsumerStatus,
};

const mysqlSql: InboxSql = {
  dialect: 'mysql',
  insertInboxRows: mysqlInsertInboxRows,
  markTransaction: mysqlCheck.markTransaction,
  assertNotAborted: mysqlCheck.assertNotAborted,
  betweenHandlers: mysqlCheck.betweenHandlers,
  async acquireLease(knex, tables, consumer, dedupKey, leaseMs) {
    if (await mysqlLease.insertLease(knex, tables, consumer, dedupKey, leaseMs)) return 1;
    return mysqlLease.takeOverLease(knex, tables, consumer, dedupKey, leaseMs);
  },
  leaseState: mysqlLease.leaseState,
  updateLease: mysqlLease.updateLease,
  selectDone: mysqlLease.selectDone,
  insertDeadLetter: mysqlDeadLetters.insertDeadLetter,
  insertRawDeadLetter: mysqlDeadLetters.insertRawDeadLetter,
  isDataError: isMysqlDataError,
  selectDeadLetters: mysqlDeadLetters.selectDeadLetters,
  markReplayed: mysqlDeadLetters.markReplayed,
  deleteDeadLetters: mysqlDeadLetters.deleteDeadLetters,
  deleteOldInboxRows: mysqlDeleteOldInboxRows,
  noteGroupStarted: mysqlGroupNote.noteGroupStarted,
  noteGroupCommitted: mysqlGroupNote.noteGroupCommitted,
  selectHistory: mysqlSelectHistory,
  selectConsumerStatus: mysqlSelectConsumerStatus,
};

/** The consumer's SQL for the dialect of `knex` (see `dialectOf`). */
export function inboxSqlFor(knex: Knex | Knex.Transaction): InboxSql {
  return dialectOf(knex) === 'mysql' ? mysqlSql : postgresSql;
}

/** The SQL and the quoted table names of `schema` for `knex`'s dialect. */
export function inboxSqlAndTables(knex: Knex | Knex.Transaction, schema: string): { sql: InboxSql; tables: Tables } {
  const sql = inboxSqlFor(knex);
  return { sql, tables: tablesForDialect(sql.dialect, schema) };
}
