import type { Tables } from '@onceflow/core';
import type { ConsumerStatusRow } from '../sql/select-consumer-status.ts';
import type { MysqlDb } from './results.ts';
import { isoUtc, keyText, mysqlRows, utcDate } from './results.ts';

/**
 * Per consumer: inbox rows done and processing, dead letters waiting and replayed, and when the
 * oldest waiting one was stored, as PostgreSQL's `selectConsumerStatus`. MySQL has no FULL
 * JOIN: the consumers of either table are collected first and both counts left-joined to them.
 */
export async function selectConsumerStatus(db: MysqlDb, tables: Tables): Promise<ConsumerStatusRow[]> {
  const result = await db.raw(
    `select c.consumer,
            coalesce(i.done, 0) as done,
            coalesce(i.processing, 0) as processing,
            coalesce(d.dead, 0) as dead,
            coalesce(d.replayed, 0) as replayed,
            ${isoUtc('d.oldest_dead_at')} as oldest_dead_at
     from (select consumer from ${tables.inbox} union select consumer from ${tables.deadLetters}) c
     left join (
       select consumer, sum(status = 'done') as done, sum(status = 'processing') as processing
       from ${tables.inbox} group by consumer
     ) i on i.consumer = c.consumer
     left join (
       select consumer,
              sum(replayed_at is null) as dead,
              sum(replayed_at is not null) as replayed,
              min(case when replayed_at is null then created_at end) as oldest_dead_at
       from ${tables.deadLetters} group by consumer
     ) d on d.consumer = c.consumer
     order by c.consumer`,
  );
  type Row = { consumer: Buffer; done: unknown; processing: unknown; dead: unknown; replayed: unknown; oldest_dead_at: string | null };
  return mysqlRows<Row>(result).map((r) => ({
    consumer: keyText(r.consumer),
    done: Number(r.done),
    processing: Number(r.processing),
    dead: Number(r.dead),
    replayed: Number(r.replayed),
    oldest_dead_at: utcDate(r.oldest_dead_at),
  }));
}
