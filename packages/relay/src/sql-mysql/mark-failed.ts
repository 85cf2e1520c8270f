import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import type { Fence } from '../sql/fence.ts';
import type { FailedAttempt } from '../sql/mark-failed.ts';
import { lockFence } from './fence.ts';
import { micros, placeholders, retryLockConflicts } from './results.ts';

/**
 * Records failed attempts, fenced like every write; answers the shards whose lease held.
 * MySQL's version of sql/mark-failed.ts: one transaction, the fence's shared locks, then one
 * UPDATE joining the rows to a derived table of the failures (MySQL has no `unnest`). A retried
 * row waits `delayMs` and holds its key meanwhile; a dead row holds its key only when
 * `blockOnDead`. The entry is appended to `errors` as a JSON value: `json_extract(?, '$')`
 * turns the text into JSON on both servers (MariaDB has no `cast(... as json)`), so it is
 * appended as an object, not as a string.
 *
 * A deadlock or lock wait timeout undoes the transaction whole and it runs again: a failure is
 * charged one attempt however often the bookkeeping is retried.
 */
export async function markFailed(
  knex: Knex,
  tables: Tables,
  fence: Fence,
  failures: readonly FailedAttempt[],
  blockOnDead: boolean,
): Promise<number[]> {
  return retryLockConflicts(() =>
    knex.transaction(async (trx) => {
      const held = await lockFence(trx, tables, fence);
      if (held.length === 0 || failures.length === 0) return held;
      const values = failures.map(() => 'select ? as id, ? as entry, ? as delay_us, ? as dead').join(' union all ');
      await trx.raw(
        `update ${tables.outbox} o
         join (${values}) f on o.id = f.id
         set o.attempts = o.attempts + 1,
             o.errors = json_array_append(o.errors, '$', json_extract(f.entry, '$')),
             o.status = if(f.dead, 'dead', 'pending'),
             o.dead_at = if(f.dead, utc_timestamp(6), null),
             o.holds_key = if(f.dead, ?, true),
             o.available_at = if(f.dead, o.available_at, utc_timestamp(6) + interval f.delay_us microsecond)
         where o.status = 'pending' and o.shard in ${placeholders(held.length)}`,
        [...failures.flatMap((f) => [f.id, JSON.stringify(f.entry), micros(f.delayMs), f.dead ? 1 : 0]), blockOnDead ? 1 : 0, ...held],
      );
      return held;
    }),
  );
}
