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
