import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import type { Fence } from '../sql/fence.ts';
import { lockFence } from './fence.ts';
import { placeholders, retryLockConflicts } from './results.ts';

/**
 * Marks rows published (or deletes them, with `deletePublished`), only in shards whose lease
 * `fence` still holds, and answers those shards; MySQL's version of sql/mark-published.ts. One
 * transaction: the fence's shared locks ({@link lockFence}), then the write of the rows of the
 * fenced shards, found by their unique `id`. Rows of a shard whose lease was lost stay pending:
 * the new holder publishes them again (a duplicate, never a loss). A deadlock or lock wait
 * timeout rolls the whole transaction back and it is run again.
 */
export async function markPublished(
  knex: Knex,
  tables: Tables,
  fence: Fence,
  ids: readonly string[],
  deletePublished = false,
): Promise<number[]> {
  return retryLockConflicts(() =>
    knex.transaction(async (trx) => {
      const held = await lockFence(trx, tables, fence);
      if (held.length === 0 || ids.length === 0) return held;
      const where = `id in ${placeholders(ids.length)} and status = 'pending' and shard in ${placeholders(held.length)}`;
      await trx.raw(
        deletePublished
          ? `delete from ${tables.outbox} where ${where}`
          : `update ${tables.outbox} set status = 'published', published_at = utc_timestamp(6), holds_key = false where ${where}`,
        [...ids, ...held],
      );
      return held;
    }),
  );
}
