import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import { mysqlRows } from './results.ts';

/**
 * The topics the outbox holds rows for, at most `limit` of them; MySQL's version of
 * sql/outbox-topics.ts. Both servers answer a DISTINCT over the leading column of the unique
 * index on (topic, idempotency_key) with a loose index scan ("Using index for group-by"): one
 * probe per distinct topic, the skip scan PostgreSQL's version spells out as a recursive CTE.
 */
export async function selectOutboxTopics(knex: Knex, tables: Tables, limit: number): Promise<string[]> {
  const rows = mysqlRows<{ topic: string }>(await knex.raw(`select distinct topic from ${tables.outbox} order by topic limit ?`, [limit]));
  return rows.map((r) => String(r.topic));
}
