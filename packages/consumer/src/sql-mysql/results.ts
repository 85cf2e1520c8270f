import type { Knex } from 'knex';

/**
 * What the SQL files of this folder need from a mysql2 `knex.raw` result: the rows of a
 * SELECT (`[rows, fields]`), or the OK packet of a write (`[ResultSetHeader, undefined]`).
 */
export function mysqlRows<Row>(result: unknown): Row[] {
  return (result as [Row[]])[0];
}

/** The OK packet of a write: rows matched (mysql2 connects with FOUND_ROWS) and the insert id. */
export function mysqlOk(result: unknown): { affectedRows: number; insertId: number } {
  const header = (result as [{ affectedRows?: number | string; insertId?: number | string }])[0];
  // Number(): a connection with bigNumberStrings reports them as strings.
  return { affectedRows: Number(header.affectedRows ?? 0), insertId: Number(header.insertId ?? 0) };
}

/**
 * A value for a VARBINARY key column (`consumer`, `dedup_key`): its UTF-8 bytes, bound as
 * bytes so no connection character set can convert them on the way.
 */
export function keyBytes(value: string): Buffer {
  return Buffer.from(value, 'utf8');
}

/** The text of a VARBINARY column read back (mysql2 gives bytes); only well-formed text is ever written. */
export function keyText(value: Buffer | string): string;
export function keyText(value: Buffer | string | null): string | null;
export function keyText(value: Buffer | string | null): string | null {
  if (value === null) return null;
  return typeof value === 'string' ? value : value.toString('utf8');
}

/**
 * SQL that reads a DATETIME(6) column (UTC, as every Onceflow time column holds) as ISO 8601
 * text with a Z, for {@link utcDate}: mysql2 would read the bare DATETIME in the client's own
 * time zone.
 */
export function isoUtc(column: string): string {
  return `date_format(${column}, '%Y-%m-%dT%H:%i:%s.%fZ')`;
}

/** The Date of an {@link isoUtc} value. */
export function utcDate(value: string): Date;
export function utcDate(value: string | null): Date | null;
export function utcDate(value: string | null): Date | null {
  return value === null ? null : new Date(value);
}

/**
 * A JSON column read back: a parsed value on MySQL 8 (its JSON type), the document's text on
 * MariaDB (where JSON is LONGTEXT with a json_valid check).
 */
export function jsonValue<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** `?, ?, ?` for `count` bindings of an IN list (never empty: callers return before). */
export function placeholders(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}

/** A knex instance or transaction, whichever a statement runs on. */
export type MysqlDb = Knex | Knex.Transaction;
