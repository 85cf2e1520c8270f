import { mysqlErrno } from '@onceflow/core';

// MySQL and MariaDB error numbers (mysql2's `errno`), matched by number, never by message text.
/** Duplicate entry for a unique key. */
export const ER_DUP_ENTRY = 1062;
/** Lock wait timeout: only the statement is rolled back (innodb_rollback_on_timeout off). */
export const ER_LOCK_WAIT_TIMEOUT = 1205;
/** Deadlock: InnoDB rolled the whole transaction back. */
export const ER_LOCK_DEADLOCK = 1213;
/** RELEASE SAVEPOINT of a savepoint the transaction no longer has. */
export const ER_SP_DOES_NOT_EXIST = 1305;

/** Whether `error` is MySQL's duplicate-key error. */
export function isDuplicateKey(error: unknown): boolean {
  return mysqlErrno(error) === ER_DUP_ENTRY;
}

/**
 * Errors of MySQL refusing the data itself (in strict mode, the default of both servers):
 * out of range (1264), truncated (1265), a bad date (1292), a string the column's character
 * set cannot hold (1366), too long (1406), NULL in a NOT NULL column (1048), invalid JSON
 * (MySQL 3140), a failed CHECK (MySQL 3819, MariaDB 4025, which is how MariaDB's JSON
 * columns refuse invalid JSON). Trying the same row again can only fail the same way.
 */
const DATA_ERRORS: ReadonlySet<number> = new Set([1048, 1264, 1265, 1292, 1366, 1406, 3140, 3819, 4025]);

/** Whether `error` is MySQL refusing the data, see {@link DATA_ERRORS}. */
export function isMysqlDataError(error: unknown): boolean {
  const errno = mysqlErrno(error);
  return errno !== undefined && DATA_ERRORS.has(errno);
}
