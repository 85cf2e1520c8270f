import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import type { DeadFilter } from './dead-messages.ts';
import { deadWhere } from './dead-messages.ts';

/**
 * Deletes at most `limit` dead rows matching `filter`, oldest first, and returns how many. Only
 * dead rows: a row a relay requeued or published meanwhile no longer matches once its lock is
 * taken. A dead row that held its key (onDead 'block') stops holding it by being gone, so later
 * messages of that key are published next, as after a requeue. Bounded so each statement's
 * locks and WAL stay small.
 */
export async function purgeDeadBatch(knex: Knex, tables: Tables, filter: DeadFilter, limit: number): Promise<number> {
  const w = deadWhere(filter);
  const result = await knex.raw(
    `delete from ${tables.outbox}
     where id in (select id from ${tables.outbox} where ${w.sql} order by seq limit ? for update)`,
    [...w.bindings, limit],
  );
  return result.rowCount ?? 0;
}
