import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import { INBOX_PRUNED_PREFIX } from '../sql/delete-old-inbox-rows.ts';
import { metaNameFor } from './meta-names.ts';
import { keyText, mysqlOk, mysqlRows } from './results.ts';

/** The primary key of one inbox row, as stored. */
type InboxKey = { consumer: Buffer; scope: string; dedup_key: Buffer };

/**
 * Deletes at most `limit` `done` inbox rows older than `olderThanMs` on MySQL, optionally of one
 * consumer, and notes in `meta` each consumer that lost rows, as PostgreSQL's
 * `deleteOldInboxRows`. MySQL cannot delete and insert in one statement, so one short
 * transaction does it in three: pick the rows with SKIP LOCKED (pruners and live consumers
 * never wait on each other; MySQL 8 and MariaDB 10.6+ both have it), delete them by primary
 * key, write the notes. The notes commit with the deletion, so no row is ever gone without one.
 */
export async function deleteOldInboxRows(
  knex: Knex,
  tables: Tables,
  consumer: string | null,
  olderThanMs: number,
  limit: number,
): Promise<number> {
  // READ COMMITTED: under REPEATABLE READ the locking read would also lock the gaps of the
  // processed_at range it scanned (up to the index's end when every row is old), holding back
  // every consumer's inbox insert until this transaction ends; READ COMMITTED locks only the rows
  // it returns. (A server logging with binlog_format=STATEMENT refuses that for InnoDB; ROW,
  // MySQL 8's default, and MIXED, MariaDB's, take it.)
  return knex.transaction(
    async (trx) => {
      const picked = await pickOldRows(trx, tables, consumer, olderThanMs, limit);
      if (picked.length === 0) return 0;
      const deleted = await deleteRows(trx, tables, picked);
      await notePruned(trx, tables, [...new Set(picked.map((r) => keyText(r.consumer)))]);
      return deleted;
    },
    { isolationLevel: 'read committed' },
  );
}

/** Locks and returns at most `limit` old `done` rows, skipping rows others hold. */
async function pickOldRows(
  trx: Knex.Transaction,
  tables: Tables,
  consumer: string | null,
  olderThanMs: number,
  limit: number,
): Promise<InboxKey[]> {
  const result = await trx.raw(
    `select consumer, scope, dedup_key from ${tables.inbox}
     where status = 'done' and processed_at < utc_timestamp(6) - interval ? microsecond
       and (? is null or consumer = ?)
     limit ?
     for update skip locked`,
    [Math.round(olderThanMs * 1000), consumer, consumer === null ? null : Buffer.from(consumer, 'utf8'), limit],
  );
  return mysqlRows<InboxKey>(result);
}

/**
 * Deletes the rows `keys` (locked by {@link pickOldRows}); returns how many. Equalities joined
 * by OR, which both servers read as point lookups on the primary key; a row-constructor IN
 * list may be scanned instead, and would then wait on rows other transactions hold.
 */
async function deleteRows(trx: Knex.Transaction, tables: Tables, keys: readonly InboxKey[]): Promise<number> {
  const result = await trx.raw(
    `delete from ${tables.inbox} where ${keys.map(() => '(consumer = ? and scope = ? and dedup_key = ?)').join(' or ')}`,
    keys.flatMap((k) => [k.consumer, k.scope, k.dedup_key]),
  );
  return mysqlOk(result).affectedRows;
}

/** Notes, with the time, that retention removed inbox rows of each of `consumers`. */
async function notePruned(trx: Knex.Transaction, tables: Tables, consumers: readonly string[]): Promise<void> {
  await trx.raw(
    `insert into ${tables.meta} (name, value)
     values ${consumers.map(() => `(?, date_format(utc_timestamp(6), '%Y-%m-%d %H:%i:%s.%f+00'))`).join(', ')}
     on duplicate key update value = values(value)`,
    consumers.map((c) => metaNameFor(INBOX_PRUNED_PREFIX, c)),
  );
}
