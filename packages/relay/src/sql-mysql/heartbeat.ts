import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import { micros, mysqlRows, retryLockConflicts } from './results.ts';

/**
 * Announces this relay (insert or refresh its `relays` row), forgets relays silent for ten
 * lease times, and counts the live relays including this one; MySQL's version of
 * sql/heartbeat.ts, in three statements (MySQL has no data-modifying CTEs). The count leaves
 * this relay out and adds it as the `+ 1`, as on PostgreSQL.
 */
export async function heartbeat(knex: Knex, tables: Tables, relayId: string, leaseMs: number): Promise<number> {
  await retryLockConflicts(() =>
    knex.raw(`insert into ${tables.relays} (relay_id) values (?) on duplicate key update heartbeat_at = utc_timestamp(6)`, [relayId]),
  );
  await retryLockConflicts(() =>
    knex.raw(`delete from ${tables.relays} where heartbeat_at < utc_timestamp(6) - interval ? microsecond and relay_id <> ?`, [
      micros(leaseMs * 10),
      relayId,
    ]),
  );
  const [row] = mysqlRows<{ live: number | string }>(
    await knex.raw(
      `select count(*) as live from ${tables.relays} where heartbeat_at > utc_timestamp(6) - interval ? microsecond and relay_id <> ?`,
      [micros(leaseMs), relayId],
    ),
  );
  return Number(row?.live ?? 0) + 1;
}

/** Removes this relay's `relays` row (graceful stop), so the others rebalance at once. */
export async function unregister(knex: Knex, tables: Tables, relayId: string): Promise<void> {
  await retryLockConflicts(() => knex.raw(`delete from ${tables.relays} where relay_id = ?`, [relayId]));
}
