import type { Tables } from '@onceflow/core';
import { afterCommit, wakeMysqlRelays } from '@onceflow/core';
import type { Knex } from 'knex';
import type { DeadFilter } from '../sql/dead-messages.ts';
import { deadWhere } from './dead-messages.ts';
import { mysqlRows, placeholders, retryLockConflicts } from './results.ts';

/**
 * Puts at most `limit` dead rows matching `filter` back to pending with a fresh attempt budget,
 * keeping their error history; returns their ids. MySQL's version of sql/requeue-dead.ts: one
 * transaction locks the rows (`FOR UPDATE` through the `outbox_dead` index, oldest first) and
 * updates them; relays of this process are woken after the commit (MySQL has no NOTIFY; other
 * relays find the rows by polling).
 *
 * `available_at` goes back to `created_at`, not to the clock: the relay's claim takes a row
 * with `available_at <= created_at` as due whatever its statement's clock says (see
 * sql-mysql/claim-batch.ts), so a claim that sees the requeue sees the row due and never lets
 * a later row of its key pass it. The row was due before it died, so no delay is lost.
 */
export async function requeueDeadBatch(knex: Knex, tables: Tables, filter: DeadFilter, limit: number): Promise<string[]> {
  const w = deadWhere(filter);
  return retryLockConflicts(() =>
    knex.transaction(async (trx) => {
      const picked = mysqlRows<{ id: string; shard: number }>(
        await trx.raw(`select id, shard from ${tables.outbox} where ${w.sql} order by seq limit ? for update`, [...w.bindings, limit]),
      );
      if (picked.length === 0) return [];
      const ids = picked.map((r) => String(r.id));
      await trx.raw(
        `update ${tables.outbox}
         set status = 'pending', attempts = 0, holds_key = false, dead_at = null, available_at = created_at
         where id in ${placeholders(ids.length)}`,
        ids,
      );
      const shards = [...new Set(picked.map((r) => Number(r.shard)))];
      afterCommit(trx, () => wakeMysqlRelays(tables.schema, shards));
      return ids;
    }),
  );
}
