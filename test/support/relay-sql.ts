import type { TestDatabase } from './database.ts';

/** The current time in UTC as SQL of the test database (`now()` on PostgreSQL, `utc_timestamp(6)` on MySQL). */
export function sqlNow(db: TestDatabase): string {
  return db.dialect === 'mysql' ? 'utc_timestamp(6)' : 'now()';
}

/** SQL for `now() - ms` (or `+`, for negative `ms`) in the test database's dialect. */
export function sqlAgo(db: TestDatabase, ms: number): string {
  return db.dialect === 'mysql'
    ? `(utc_timestamp(6) - interval ${Math.round(ms * 1_000)} microsecond)`
    : `(now() - interval '${ms} milliseconds')`;
}

/** An integer count of rows of `table` (a quoted name) matching `where`. */
export async function countRows(db: TestDatabase, table: string, where: string, bindings: readonly unknown[] = []): Promise<number> {
  const [row] = await db.rows<{ n: number | string }>(`select count(*) as n from ${table} where ${where}`, bindings);
  return Number(row?.n ?? 0);
}

/** SQL for the number of entries of a JSON array column. */
export function sqlJsonLength(db: TestDatabase, column: string): string {
  return db.dialect === 'mysql' ? `json_length(${column})` : `jsonb_array_length(${column})`;
}

/** SQL for the `lease_until` of a free lease ('-infinity' on PostgreSQL, DATETIME's first day on MySQL). */
export function sqlLeaseStart(db: TestDatabase): string {
  return db.dialect === 'mysql' ? `'1000-01-01 00:00:00'` : `'-infinity'`;
}

/** A text column's value: MySQL's VARBINARY keys arrive as bytes holding UTF-8. */
export function textOf(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

/**
 * Ends every other session on the test database, as a server restart would: PostgreSQL's
 * pg_terminate_backend, MySQL's KILL of each connection information_schema.processlist shows
 * on the database. Answers how many were ended.
 */
export async function killOtherSessions(db: TestDatabase): Promise<number> {
  if (db.dialect === 'postgres') {
    const [row] = await db.rows<{ n: number }>(
      'select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
    );
    return Number(row?.n ?? 0);
  }
  // One connection for the list and the kills, so it never kills itself.
  return db.knex.transaction(async (trx) => {
    const [sessions] = (await trx.raw('select id from information_schema.processlist where db = ? and id <> connection_id()', [
      db.name,
    ])) as [Array<{ id: number }>];
    let killed = 0;
    for (const { id } of sessions) {
      // A session may end by itself meanwhile (1094: unknown thread id).
      await trx.raw(`kill ${Number(id)}`).then(
        () => killed++,
        (error: unknown) => {
          if ((error as { errno?: number }).errno !== 1094) throw error;
        },
      );
    }
    return killed;
  });
}

/** Rows of the producers' key-lock table (MySQL); 0 on PostgreSQL, whose advisory locks leave none. */
export async function keyLockRows(db: TestDatabase): Promise<number> {
  return db.dialect === 'mysql' ? countRows(db, `\`${db.schema}\`.key_locks`, '1 = 1') : 0;
}
