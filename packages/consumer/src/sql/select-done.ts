import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/** Whether the unscoped record (consumer, dedup_key) is `done`: a side-effect record from before topic scope. */
export async function selectDone(knex: Knex, tables: Tables, consumer: string, dedupKey: string): Promise<boolean> {
  const result = await knex.raw(`select 1 from ${tables.inbox} where consumer = ? and scope = '' and dedup_key = ? and status = 'done'`, [
    consumer,
    dedupKey,
  ]);
  return result.rows.length > 0;
}
