import type { MysqlTables } from '@onceflow/core';
import type { Knex } from 'knex';
import { mysqlRows } from './results.ts';

/**
 * Deletes up to `limit` rows of `key_locks` with a lock id above `after` (all from the lowest
 * when null) that no producer holds, and returns the highest lock id it looked at (null when
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
 * A deleted row that a producer needs again costs that producer an insert instead of an update.
 */
export async function pruneKeyLocks(knex: Knex, tables: MysqlTables, after: string | null, limit: number): Promise<string | null> {
  return knex.transaction(
    async (trx) => {
      const ids = mysqlRows<{ id: string }>(
        await trx.raw(
          `select cast(lock_id as char) as id from ${tables.keyLocks}
           ${after === null ? '' : 'where lock_id > cast(? as signed)'}
           order by lock_id
           limit ?
           for update skip locked`,
          after === null ? [limit] : [after, limit],
        ),
      ).map((r) => String(r.id));
      if (ids.length === 0) return null;
      // Ids as exact integers: a BIGINT compared with text would be compared as doubles.
      await trx.raw(`delete from ${tables.keyLocks} where lock_id in (${ids.map(() => 'cast(? as signed)').join(', ')})`, ids);
      return ids.length < limit ? null : (ids.at(-1) as string);
    },
    { isolationLevel: 'read committed' },
  );
}
