import { mysqlErrno } from './migrate-mysql.ts';

// MySQL and MariaDB error numbers (mysql2 reports them as `errno`), matched by number, never by
// message text, which depends on the server and its language.
/** Deadlock found; InnoDB rolled the whole transaction back. */
export const MYSQL_DEADLOCK = 1213;
/** Lock wait timeout; the statement was rolled back (the transaction too with innodb_rollback_on_timeout). */
export const MYSQL_LOCK_WAIT_TIMEOUT = 1205;
/** Duplicate entry for a unique key. */
export const MYSQL_DUPLICATE_KEY = 1062;

/**
 * Errors after which the server has certainly undone the statement (or transaction) that met
 * them, so running it again is safe and cannot apply it twice: a deadlock (1213, the whole
 * transaction rolled back) and a lock wait timeout (1205, the statement rolled back; the
 * caller's transaction is rolled back by knex when the error leaves it).
 */
export function mysqlLockConflict(error: unknown): boolean {
  const errno = mysqlErrno(error);
  return errno === MYSQL_DEADLOCK || errno === MYSQL_LOCK_WAIT_TIMEOUT;
}

/** mysql2's error codes for a connection that broke or could not be made. */
const CONNECTION_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

/**
 * Server error numbers of a session that ended or a server going away: 1053 (shutdown in
 * progress), 1927 (MariaDB: connection killed), 2006 (server has gone away), 2013 (lost
 * connection during query), 4031 (MySQL 8: disconnected by the server for inactivity).
 */
const CONNECTION_ERRNOS = new Set([1053, 1927, 2006, 2013, 4031]);

/**
 * True when a MySQL or MariaDB failure may succeed if tried again: lock conflicts
 * ({@link mysqlLockConflict}) and a lost or refused connection (as on PostgreSQL). For a lost
 * connection the fate of a COMMIT in flight is unknown, so callers retry the work itself (the
 * relay sends the batch again, a consumer processes the record again under its dedup), never
 * blindly the statement. Duplicate keys (1062) and every other server error are not retriable.
 */
export function mysqlRetriable(error: unknown): boolean {
  if (mysqlLockConflict(error)) return true;
  const errno = mysqlErrno(error);
  if (errno !== undefined && CONNECTION_ERRNOS.has(errno)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECTION_CODES.has(code);
}
