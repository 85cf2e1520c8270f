import { mysqlLockConflict, sleep } from '@onceflow/core';
import type { Knex } from 'knex';

/** The rows of a mysql2 `knex.raw` select (`[rows, fields]`). */
export function mysqlRows<Row>(result: unknown): Row[] {
  return (result as [Row[]])[0];
}

/** The rows changed by a mysql2 `knex.raw` insert, update or delete (`[ResultSetHeader]`). */
export function mysqlAffected(result: unknown): number {
  return Number((result as [{ affectedRows?: unknown }])[0]?.affectedRows ?? 0);
}

/** `(?, ?, ...)` for `n` values (n > 0: MySQL refuses an empty list). */
export function placeholders(n: number): string {
  return `(${Array.from({ length: n }, () => '?').join(', ')})`;
}

/** Bytes read from a VARBINARY column as the UTF-8 text that was written (only well-formed text is). */
export function utf8(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

/**
 * A JSON column's value: MySQL 8 has a JSON type, which mysql2 parses; on MariaDB JSON is
 * LONGTEXT, which arrives as text.
 */
export function jsonValue<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : Buffer.isBuffer(value) ? JSON.parse(value.toString('utf8')) : value) as T;
}

/**
 * SQL turning a DATETIME(6) column holding UTC into ISO 8601 text with milliseconds and `Z`,
 * as PostgreSQL's `to_char` in the relay's queries answers. Formatted by the server, so the
 * driver's time zone setting (mysql2 reads DATETIME in the process's local zone unless told
 * otherwise) never touches it.
 */
export function isoUtc(column: string): string {
  return `concat(left(date_format(${column}, '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')`;
}

/** Milliseconds as the microseconds of an `interval ? microsecond` (MySQL has no millisecond unit). */
export function micros(ms: number): number {
  return Math.max(0, Math.round(ms)) * 1_000;
}

/** A knex pool or transaction. */
export type Runner = Knex | Knex.Transaction;

/** Tries a statement or transaction at most this often when it meets a lock conflict. */
const LOCK_CONFLICT_TRIES = 4;

/**
 * Runs `work` (one statement, or one whole transaction) again when it fails with a deadlock
 * (1213) or a lock wait timeout (1205), up to four tries with a short random pause: the server
 * has undone what it did by then (see `mysqlLockConflict`), so running it again cannot apply it
 * twice, and no message is charged an attempt for a conflict between relays' bookkeeping. Any
 * other failure, and the last conflict, go to the caller (a lane then backs off, its rows stay
 * pending).
 */
export async function retryLockConflicts<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= LOCK_CONFLICT_TRIES || !mysqlLockConflict(error)) throw error;
      await sleep(5 + Math.random() * 20 * attempt);
    }
  }
}
