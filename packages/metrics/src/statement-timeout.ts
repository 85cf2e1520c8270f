import type { Dialect } from '@onceflow/core';
import { dialectOf } from '@onceflow/core';
import type { Knex } from 'knex';

/**
 * Bounds the statements of `trx` (a read-only transaction of the gauges) to `timeoutMs`, per
 * dialect; returns what undoes it before the connection goes back to the pool.
 */
export async function limitStatementTime(trx: Knex.Transaction, timeoutMs: number): Promise<() => Promise<void>> {
  return LIMITS[dialectOf(trx)](trx, Math.max(1, Math.floor(timeoutMs)));
}

const LIMITS: Readonly<Record<Dialect, (trx: Knex.Transaction, ms: number) => Promise<() => Promise<void>>>> = {
  postgres: async (trx, ms) => {
    // set local: the timeout ends with the transaction, nothing to undo.
    await trx.raw(`set local statement_timeout = ${ms}`);
    return async () => {};
  },
  mysql: async (trx, ms) => {
    // MySQL and MariaDB share no statement timeout, and neither has one scoped to a
    // transaction: MariaDB's max_statement_time (seconds) covers every statement, MySQL 8's
    // max_execution_time (milliseconds) covers read-only SELECTs, which the gauges' query is.
    // Both are set for the session and set back to the server's default afterwards.
    const [rows] = (await trx.raw('select version() as version')) as [Array<{ version: string }>];
    const mariadb = /mariadb/i.test(rows[0]?.version ?? '');
    const variable = mariadb ? 'max_statement_time' : 'max_execution_time';
    await trx.raw(`set session ${variable} = ?`, [mariadb ? ms / 1_000 : ms]);
    return async () => {
      await trx.raw(`set session ${variable} = default`);
    };
  },
};
