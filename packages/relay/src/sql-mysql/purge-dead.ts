import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import type { DeadFilter } from '../sql/dead-messages.ts';
import { deadWhere } from './dead-messages.ts';
import { mysqlAffected, retryLockConflicts } from './results.ts';

/**
 * Deletes at most `limit` dead rows matching `filter`, oldest first, and returns how many;
 * MySQL's version of sql/purge-dead.ts. One statement: MySQL's single-table DELETE takes
 * ORDER BY and LIMIT, and it locks the rows it deletes through the `outbox_dead` index, so a
 * row a relay requeued meanwhile (no longer dead) is not deleted. A dead row that held its key
 * stops holding it by being gone.
 */
export async function purgeDeadBatch(knex: Knex, tables: Tables, filter: DeadFilter, limit: number): Promise<number> {
  const w = deadWhere(filter);
  return mysqlAffected(
    await retryLockConflicts(() => knex.raw(`delete from ${tables.outbox} where ${w.sql} order by seq limit ?`, [...w.bindings, limit])),
  );
}
