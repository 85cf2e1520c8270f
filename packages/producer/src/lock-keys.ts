import type { Knex } from 'knex';

/**
 * Takes transaction-scoped advisory locks on the given `(topic, key)` lock ids, in ascending
 * order. A second transaction enqueueing for the same key waits here until the first commits
 * or rolls back, so for one key the outbox `seq` order is the producers' commit order even
 * when their transactions overlap. Ascending order keeps two multi-key enqueues from
 * deadlocking each other.
 */
export async function lockKeys(trx: Knex.Transaction, sortedLockIds: readonly string[]): Promise<void> {
  if (sortedLockIds.length === 1) {
    await trx.raw('select pg_advisory_xact_lock(?::bigint)', [sortedLockIds[0] as string]);
    return;
  }
  await trx.raw('select count(pg_advisory_xact_lock(l)) from unnest(?::bigint[]) with ordinality as t(l, n)', [[...sortedLockIds]]);
}
