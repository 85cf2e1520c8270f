import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import type { DeadFilter, DeadRow } from '../sql/dead-messages.ts';
import type { Runner } from './results.ts';
import { isoUtc, jsonValue, mysqlRows, placeholders, utf8 } from './results.ts';

/**
 * The `where` clause selecting dead rows that match `filter` on MySQL: `is_dead = 1` reads the
 * `outbox_dead` index (NULL for every other row), whose entries end in `seq`.
 */
export function deadWhere(filter: DeadFilter): { sql: string; bindings: Knex.Value[] } {
  const parts = ['is_dead = 1'];
  const bindings: Knex.Value[] = [];
  if (filter.ids !== undefined) {
    // An empty id list selects nothing (MySQL refuses `in ()`).
    parts.push(filter.ids.length === 0 ? 'false' : `id in ${placeholders(filter.ids.length)}`);
    bindings.push(...filter.ids);
  }
  if (filter.topic !== undefined) {
    parts.push('topic = ?');
    bindings.push(filter.topic);
  }
  if (filter.key !== undefined) {
    // The key column holds UTF-8 bytes; a text parameter compares as its UTF-8 bytes.
    parts.push('`key` = ?');
    bindings.push(filter.key);
  }
  return { sql: parts.join(' and '), bindings };
}

/** Dead rows matching `filter` after `afterSeq`, oldest first; MySQL's version of sql/dead-messages.ts. */
export async function selectDead(knex: Runner, tables: Tables, filter: DeadFilter, afterSeq: string, limit: number): Promise<DeadRow[]> {
  const w = deadWhere(filter);
  const rows = mysqlRows<Record<string, unknown>>(
    await knex.raw(
      `select cast(seq as char) as seq, id, topic, \`key\`, idempotency_key, type, attempts, errors,
              ${isoUtc('created_at')} as created_at, ${isoUtc('dead_at')} as dead_at
       from ${tables.outbox}
       where ${w.sql} and seq > cast(? as unsigned)
       order by seq
       limit ?`,
      [...w.bindings, afterSeq, limit],
    ),
  );
  return rows.map((r) => ({
    seq: String(r.seq),
    id: String(r.id),
    topic: String(r.topic),
    key: utf8(r.key),
    idempotency_key: utf8(r.idempotency_key),
    type: r.type === null ? null : String(r.type),
    attempts: Number(r.attempts),
    errors: jsonValue<Array<Record<string, unknown>>>(r.errors),
    created_at: new Date(String(r.created_at)),
    dead_at: new Date(String(r.dead_at)),
  }));
}
