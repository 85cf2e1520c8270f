import type { Knex } from 'knex';
import { tableOf } from './cli.ts';
import type { TestDatabase } from './database.ts';
import { sqlAgo } from './relay-sql.ts';

/**
 * What the consumer's matrix tests say differently on PostgreSQL and MariaDB, each in one
 * place, so the test files themselves read the same on both.
 */

/** The quoted name of Onceflow's `table` in the test database, for assertion SQL. */
export function onceflowTable(db: TestDatabase, table: string): string {
  return tableOf(db, table);
}

/** The number in column `n` of the first row of `sql`. */
export async function countRows(db: TestDatabase, sql: string, bindings: readonly unknown[] = []): Promise<number> {
  const rows = await db.rows<{ n: unknown }>(sql, bindings);
  return Number(rows[0]?.n ?? 0);
}

/** SQL for the time `days` ago, in the column type Onceflow's times use (timestamptz; DATETIME(6) in UTC). */
export function daysAgo(db: TestDatabase, days: number): string {
  return sqlAgo(db, days * 86_400_000);
}

/**
 * How many statements wait for a row lock right now whose text starts like `prefix` (say
 * `insert into`) and mentions `table`: pg_stat_activity on PostgreSQL, the process list on
 * MariaDB and MySQL.
 */
export async function lockWaits(db: TestDatabase, prefix: string, table: string): Promise<number> {
  if (db.dialect === 'mysql') {
    // The process list, on both MySQL 8 and MariaDB: a statement still listed at each look is
    // waiting (InnoDB's lock-wait tables differ between the two, and need more privileges).
    return countRows(
      db,
      `select count(*) n from information_schema.processlist where db = database() and command = 'Query' and info like ?`,
      [`${prefix}%${table}%`],
    );
  }
  return countRows(
    db,
    `select count(*) n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike ?`,
    [`${prefix}%${table}%`],
  );
}

/**
 * Makes the transaction `trx` unable to commit the way each database does it to a handler that
 * catches a failed statement and goes on: PostgreSQL aborts the transaction on any failed
 * statement; InnoDB rolls the whole transaction back on a deadlock, which a ROLLBACK stands
 * for here (a real deadlock is in the MySQL-only tests).
 */
export async function swallowFailure(db: TestDatabase, trx: Knex.Transaction): Promise<void> {
  if (db.dialect === 'mysql') await trx.raw('rollback');
  else await trx.raw('select 1 / 0').catch(() => undefined);
}
