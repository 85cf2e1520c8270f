import type { Tables } from '@onceflow/core';
import { pgJson, pgText } from '../pg-text.ts';
import type { DeadLetterPurgeFilter } from '../sql/delete-dead-letters.ts';
import type { DeadLetterRow } from '../sql/insert-dead-letter.ts';
import type { RawDeadLetterRow } from '../sql/insert-raw-dead-letter.ts';
import type { DeadLetterFilter, StoredDeadLetter } from '../sql/select-dead-letters.ts';
import { isDuplicateKey } from './errors.ts';
import type { MysqlDb } from './results.ts';
import { isoUtc, jsonValue, keyBytes, keyText, mysqlOk, mysqlRows, utcDate } from './results.ts';

/**
 * Dead-letters a message on MySQL: a plain INSERT whose duplicate-key error (by errno) means
 * the record or another copy of the message is parked already (the unique keys over `live`
 * hold for rows not replayed), as PostgreSQL's ON CONFLICT DO NOTHING. Returns the new id
 * (the OK packet's insert id), or null when it was dead-lettered before.
 */
export async function insertDeadLetter(db: MysqlDb, tables: Tables, row: DeadLetterRow): Promise<string | null> {
  return insertOrNull(
    db,
    `insert into ${tables.deadLetters} (consumer, topic, \`partition\`, \`offset\`, \`key\`, scope, dedup_key, headers, raw_key, raw_headers, value, errors, attempts)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      keyBytes(row.consumer),
      row.topic,
      row.partition,
      row.offset,
      pgText(row.key),
      row.scope,
      row.dedupKey === null ? null : keyBytes(row.dedupKey),
      JSON.stringify(pgJson(row.headers)),
      row.rawKey,
      row.rawHeaders,
      row.value,
      JSON.stringify(pgJson(row.errors)),
      row.attempts,
    ],
  );
}

/** The last-resort dead letter (see PostgreSQL's `insertRawDeadLetter`): no key, no dedup key. */
export async function insertRawDeadLetter(db: MysqlDb, tables: Tables, row: RawDeadLetterRow): Promise<string | null> {
  return insertOrNull(
    db,
    `insert into ${tables.deadLetters} (consumer, topic, \`partition\`, \`offset\`, \`key\`, dedup_key, headers, raw_key, raw_headers, value, errors, attempts)
     values (?, ?, ?, ?, null, null, ?, ?, ?, ?, ?, ?)`,
    [
      keyBytes(row.consumer),
      row.topic,
      row.partition,
      row.offset,
      JSON.stringify(row.headers),
      row.rawKey,
      row.rawHeaders,
      row.value,
      JSON.stringify(row.errors),
      row.attempts,
    ],
  );
}

async function insertOrNull(db: MysqlDb, sql: string, bindings: unknown[]): Promise<string | null> {
  try {
    // Read from the OK packet as a string: a BIGINT id beyond 2^53 would not survive a number.
    const header = (await db.raw(sql, bindings as never))[0] as { insertId: number | string | bigint };
    return String(header.insertId);
  } catch (error) {
    if (isDuplicateKey(error)) return null;
    throw error;
  }
}

/** An IN filter over ids, or nothing to match every row. */
function idFilter(ids: readonly string[] | null, column: string): { sql: string; bindings: string[] } {
  if (ids === null) return { sql: '', bindings: [] };
  // No ids select nothing; `in ()` is not SQL.
  if (ids.length === 0) return { sql: ' and false', bindings: [] };
  return { sql: ` and ${column} in (${ids.map(() => 'cast(? as signed)').join(', ')})`, bindings: [...ids] };
}

/**
 * Lists dead letters oldest first, by id (keyset pagination with `afterId`), as PostgreSQL's
 * `selectDeadLetters`. Ids and offsets are read as text (a BIGINT beyond 2^53 would not
 * survive a JavaScript number); byte columns as text; times as UTC; JSON parsed on both servers.
 */
export async function selectDeadLetters(db: MysqlDb, tables: Tables, f: DeadLetterFilter): Promise<StoredDeadLetter[]> {
  const ids = idFilter(f.ids, 'd.id');
  const result = await db.raw(
    `select cast(d.id as char) as id, consumer, topic, \`partition\`, cast(\`offset\` as char) as \`offset\`, \`key\`, dedup_key, headers,
            raw_key, raw_headers, value, errors, attempts, ${isoUtc('created_at')} as created_at, ${isoUtc('replayed_at')} as replayed_at
     from ${tables.deadLetters} d
     where d.id > cast(? as signed)
       and (? is null or consumer = ?)${ids.sql}
       and (? or replayed_at is null)
     order by d.id
     limit ?`,
    [f.afterId, f.consumer, f.consumer === null ? null : keyBytes(f.consumer), ...ids.bindings, f.includeReplayed, f.limit],
  );
  type Row = Omit<StoredDeadLetter, 'consumer' | 'dedup_key' | 'created_at' | 'replayed_at'> & {
    consumer: Buffer;
    dedup_key: Buffer | null;
    created_at: string;
    replayed_at: string | null;
  };
  return mysqlRows<Row>(result).map((r) => ({
    ...r,
    consumer: keyText(r.consumer),
    dedup_key: keyText(r.dedup_key),
    headers: jsonValue(r.headers),
    errors: jsonValue(r.errors),
    created_at: utcDate(r.created_at),
    replayed_at: utcDate(r.replayed_at),
  }));
}

/** Marks dead letters replayed; returns how many were still unreplayed. */
export async function markReplayed(db: MysqlDb, tables: Tables, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db.raw(
    `update ${tables.deadLetters} set replayed_at = utc_timestamp(6)
     where id in (${ids.map(() => 'cast(? as signed)').join(', ')}) and replayed_at is null`,
    [...ids],
  );
  return mysqlOk(result).affectedRows;
}

/**
 * Deletes at most `limit` dead letters matching `filter`, oldest first, and returns how many:
 * MySQL's single-table DELETE takes ORDER BY and LIMIT itself.
 */
export async function deleteDeadLetters(db: MysqlDb, tables: Tables, filter: DeadLetterPurgeFilter, limit: number): Promise<number> {
  const ids = idFilter(filter.ids, 'id');
  const result = await db.raw(`delete from ${tables.deadLetters} where (? is null or consumer = ?)${ids.sql} order by id limit ?`, [
    filter.consumer,
    filter.consumer === null ? null : keyBytes(filter.consumer),
    ...ids.bindings,
    limit,
  ]);
  return mysqlOk(result).affectedRows;
}
