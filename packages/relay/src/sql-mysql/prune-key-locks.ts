import type { MysqlTables } from '@onceflow/core';
import type { Knex } from 'knex';
import { mysqlRows } from './results.ts';

/**
 * Deletes up to `limit` (at most 100) rows of `key_locks` with a lock id above `after` (from
 * the lowest when null) that no producer holds, and returns the highest lock id it looked at (null when
 * none was left), from which the next batch goes on. Producers insert one row per (topic, key)
 * lock id and never delete it, so without this the table grows by one small row per key ever
 * written.
 *
 * Why deleting cannot let two producers of one key both proceed (InnoDB):
 * - A producer holds its key's row with an exclusive lock until its transaction ends. `FOR
 *   UPDATE SKIP LOCKED` passes over exactly those rows, so a row is only deleted while no
 *   producer holds it, and the delete runs on rows this transaction has locked itself.
 * - A producer arriving while the row is locked here waits on that lock (its `INSERT ... ON
 *   DUPLICATE KEY UPDATE` meets the row); once the delete commits, the row is gone and its
 *   insert creates a new one, locked by itself until it ends. Two producers doing so at once
 *   meet on the primary key: the second finds the first's uncommitted row a duplicate and waits
 *   for it, exactly as when the row was never there. So the key's producers still pass one at a
 *   time, and `seq` still follows their commit order.
 * - READ COMMITTED: the scan takes no gap locks, so producers inserting new lock ids are never
 *   held up by a prune; this transaction never waits for a lock (SKIP LOCKED, then a delete of
 *   its own locked rows), so it takes part in no deadlock.
 * Cost: one point delete per row, at most one per key written since the last prune; a deleted
 * row that a producer needs again costs that producer an insert instead of an update.
 */
export async function pruneKeyLocks(knex: Knex, tables: MysqlTables, after: string | null, limit: number): Promise<string | null> {
  // Small transactions: a producer of a key locked here waits until this one ends.
  const batch = Math.min(limit, KEY_LOCK_BATCH);
  return knex.transaction(
    async (trx) => {
      const ids = mysqlRows<{ id: string }>(
        await trx.raw(
          `select cast(lock_id as char) as id from ${tables.keyLocks}
           ${after === null ? '' : `where lock_id > ${integerLiteral(after)}`}
           order by lock_id
           limit ?
           for update skip locked`,
          [batch],
        ),
      ).map((r) => String(r.id));
      if (ids.length === 0) return null;
      // One row per statement, each a unique lookup of a row this transaction has locked, so it
      // never waits. One statement for all (`lock_id in (...)`, or a join) is a range read,
      // which also locks the next row of each range to see where it ends, and so waits for a
      // producer holding a neighbouring key (seen on MariaDB 10.11): a wait, and with a
      // producer that then wants a row locked here, a deadlock whose victim may be the producer.
      for (const id of ids) await trx.raw(`delete from ${tables.keyLocks} where lock_id = ${integerLiteral(id)}`);
      return ids.length < batch ? null : (ids.at(-1) as string);
    },
    { isolationLevel: 'read committed' },
  );
}

/** Most key-lock rows one prune transaction locks and deletes. */
const KEY_LOCK_BATCH = 100;

/**
 * A 64-bit lock id as an SQL integer literal, checked to be one. Literals, not parameters: a
 * BIGINT compared with a text parameter is compared as doubles (inexact above 2^53).
 */
function integerLiteral(id: string): string {
  if (!/^-?\d{1,19}$/.test(id)) throw new Error(`Not a lock id: ${JSON.stringify(id)}`);
  return id;
}
