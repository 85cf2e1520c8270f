/**
 * A consumer with `types` handles only messages of those types: the others get no inbox row
 * and no handler call, yet their offsets are committed, so nothing is read again after a
 * restart.
 */
import type { ConsumedMessage, InboxConsumer } from '@onceflow/consumer';
import { migrate } from '@onceflow/core';
import type { Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestRecord } from './support/consumer-helpers.ts';
import { committedTotal, createEffects, effects, publish, startConsumer, waitFor } from './support/consumer-helpers.ts';
import { onceflowTable } from './support/consumer-matrix.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';

let db: TestDatabase;
let kafka: Kafka;

beforeAll(async () => {
  db = await createTestDatabase();
  await migrate(db.knex, { schema: db.schema });
  kafka = testKafka('consumer-type-filter-test');
});
afterAll(async () => {
  await db?.drop();
});

interface Payload {
  key: string;
  seq: number;
}

/** Types in turn: two wanted, one not, and a record without a type header. */
const TYPES = ['order.paid', 'order.refunded', 'order.shipped', undefined] as const;

describe('filtering by message type', () => {
  it('handles only the listed types, writes no inbox row for the others, and commits past them', async () => {
    const topic = uniqueName('types');
    const table = uniqueName('fx');
    const groupId = uniqueName('types_group');
    const consumerName = uniqueName('types');
    await createTopic(kafka, topic, 2);
    await createEffects(db.knex, table);
    const records: TestRecord[] = Array.from({ length: 40 }, (_, seq) => {
      const type = TYPES[seq % TYPES.length];
      const key = `order-${seq % 5}`;
      return { key, payload: { key, seq }, idempotencyKey: `${topic}:${seq}`, ...(type === undefined ? {} : { type }) };
    });
    const wanted = records.filter((r) => r.type === 'order.paid' || r.type === 'order.shipped');
    const seen: Array<string | undefined> = [];
    const handler = async (m: ConsumedMessage<Payload>, trx: Knex.Transaction) => {
      seen.push(m.type);
      await trx(table).insert({ key: m.payload.key, seq: m.payload.seq, dedup_key: m.idempotencyKey });
    };
    const options = { knex: db.knex, schema: db.schema, consumerName, handler, types: ['order.paid', 'order.shipped'] };
    let consumer: InboxConsumer<Payload> | undefined;
    let restarted: InboxConsumer<Payload> | undefined;
    try {
      consumer = await startConsumer<Payload>(kafka, groupId, [topic], options);
      await publish(kafka, topic, records);
      await waitFor('every offset committed', async () => (await committedTotal(kafka, groupId, topic)) === records.length);
      expect(consumer.stats()).toMatchObject({ handled: wanted.length, filtered: records.length - wanted.length, deadLettered: 0 });
      expect(seen.toSorted()).toEqual(wanted.map((r) => r.type).toSorted());
      expect((await effects(db.knex, table)).map((r) => r.dedup_key).toSorted()).toEqual(wanted.map((r) => r.idempotencyKey).toSorted());
      const inbox = await db.rows<{ dedup_key: string | Buffer }>(
        `select dedup_key from ${onceflowTable(db, 'inbox')} where consumer = ? order by dedup_key`,
        [consumerName],
      );
      // Text on PostgreSQL, bytes on MySQL (VARBINARY); the keys here are ASCII, so both orders agree.
      expect(inbox.map((r) => String(r.dedup_key))).toEqual(wanted.map((r) => r.idempotencyKey).toSorted());
      await consumer.stop();
      consumer = undefined;

      // Restarted on the same group: only a new message arrives, nothing is read again.
      restarted = await startConsumer<Payload>(kafka, groupId, [topic], options);
      const extra = { key: 'order-9', payload: { key: 'order-9', seq: 99 }, idempotencyKey: `${topic}:99`, type: 'order.paid' };
      await publish(kafka, topic, [extra]);
      await waitFor('the new message handled', () => restarted?.stats().handled === 1);
      await waitFor('its offset committed', async () => (await committedTotal(kafka, groupId, topic)) === records.length + 1);
      expect(restarted.stats()).toMatchObject({ handled: 1, duplicates: 0, filtered: 0 });
      expect(seen).toHaveLength(wanted.length + 1);
    } finally {
      await Promise.all([consumer?.stop(), restarted?.stop()]);
    }
  });
});
