import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/**
 * The topics the outbox holds rows for, at most `limit` of them. A skip scan over the unique
 * index on (topic, idempotency_key): one index probe per distinct topic, however many rows each
 * has, so the relay can ask at start without reading the outbox.
 */
export async function selectOutboxTopics(knex: Knex, tables: Tables, limit: number): Promise<string[]> {
  const result = await knex.raw(
    `with recursive t (topic) as (
       (select topic from ${tables.outbox} order by topic limit 1)
       union all
       select (select o.topic from ${tables.outbox} o where o.topic > t.topic order by o.topic limit 1)
       from t where t.topic is not null
     )
     select topic from t where topic is not null limit ?`,
    [limit],
  );
  return (result.rows as Array<{ topic: string }>).map((r) => r.topic);
}
