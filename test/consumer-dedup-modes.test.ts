/**
 * Dedup by message id and by a function of the message, through a real broker and PostgreSQL,
 * as the default idempotency-key mode is proven in consumer-kafka, consumer-inbox and e2e.
 */
import type { ConsumedMessage, DedupMode, InboxConsumer } from '@onceflow/consumer';
import { DeadLetters } from '@onceflow/consumer';
import { migrate } from '@onceflow/core';
import { KafkaPublisher } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import { Relay } from '@onceflow/relay';
import type { Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedTotal, createEffects, effects, publish, startConsumer, waitFor } from './support/consumer-helpers.ts';
import { countRows, onceflowTable } from './support/consumer-matrix.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';

let db: TestDatabase;
let kafka: Kafka;

beforeAll(async () => {
  db = await createTestDatabase(12);
  await migrate(db.knex, { schema: db.schema });
  kafka = testKafka('consumer-dedup-modes-test');
});
afterAll(async () => {
  await db?.drop();
});

async function count(sql: string, bindings: readonly unknown[] = []): Promise<number> {
  return countRows(db, sql, bindings);
}

/** A handler writing one effect row per call: key, seq and the dedup key it ran under. */
function recordEffect(table: string, mode: DedupMode) {
  return async (m: ConsumedMessage<{ key: string; seq: number }>, trx: Knex.Transaction) => {
    const dedupKey = mode === 'id' ? m.id : mode === 'idempotencyKey' ? m.idempotencyKey : null;
    await trx(table).insert({ key: m.payload.key, seq: m.payload.seq, dedup_key: dedupKey ?? '' });
  };
}

/** Sends raw string values with a plain kafkajs producer: no Onceflow headers at all. */
async function sendPlain(topic: string, records: ReadonlyArray<{ key: string; value: string }>): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: records.map((r) => ({ key: r.key, value: r.value })) });
  } finally {
    await producer.disconnect();
  }
}

async function stop(...consumers: Array<{ stop(): Promise<void> } | undefined>): Promise<void> {
  await Promise.all(consumers.map((c) => c?.stop()));
}

describe("dedup: 'id'", () => {
  it('messages from the outbox and relay, published twice: one effect per message id, every copy counted', async () => {
    const topic = uniqueName('paid');
    const table = uniqueName('fx');
    const consumerName = uniqueName('rewards');
    const groupId = uniqueName('group');
    await createTopic(kafka, topic, 2);
    await createEffects(db.knex, table);
    const outbox = new OutboxWriter({ schema: db.schema });
    const ids = new Set<string>();
    await db.knex.transaction(async (trx) => {
      const sent = await outbox.enqueue(
        trx,
        Array.from({ length: 30 }, (_, seq) => ({
          topic,
          key: `order-${seq % 5}`,
          payload: { key: `order-${seq % 5}`, seq },
          idempotencyKey: `payment:${topic}:${seq}`,
        })),
      );
      for (const m of sent) ids.add(m.id);
    });
    const relay = new Relay({ knex: db.knex, schema: db.schema, publisher: new KafkaPublisher(kafka), pollIntervalMs: 200 });
    let consumer: InboxConsumer<{ key: string; seq: number }> | undefined;
    await relay.start();
    try {
      consumer = await startConsumer(kafka, groupId, [topic], {
        knex: db.knex,
        schema: db.schema,
        consumerName,
        dedup: 'id',
        handler: recordEffect(table, 'id'),
      });
      const c = consumer;
      await waitFor('30 handled', () => c.stats().handled === 30);
      // A relay that crashed after publishing and before marking publishes every row again.
      await db.knex.raw(`update ${onceflowTable(db, 'outbox')} set status = 'pending', published_at = null where topic = ?`, [topic]);
      await waitFor('30 duplicates skipped', () => c.stats().duplicates === 30);
      // Both copies of all thirty are behind the committed offsets.
      await waitFor('every offset committed', async () => (await committedTotal(kafka, groupId, topic)) === 60);
      expect(c.stats()).toMatchObject({ handled: 30, duplicates: 30, deadLettered: 0 });
    } finally {
      await stop(consumer);
      await relay.stop();
    }
    const rows = await effects(db.knex, table);
    expect(rows).toHaveLength(30);
    expect(new Set(rows.map((r) => r.dedup_key))).toEqual(ids);
    // The inbox recorded the message id as the dedup key, not the idempotency key.
    expect(await count(`select count(*) n from ${onceflowTable(db, 'inbox')} where consumer = ?`, [consumerName])).toBe(30);
    expect(
      await count(`select count(*) n from ${onceflowTable(db, 'inbox')} where consumer = ? and dedup_key = message_id`, [consumerName]),
    ).toBe(30);
  });

  it("two messages sharing an idempotency key with different ids are both handled under 'id', once under the default", async () => {
    const topic = uniqueName('shared_key');
    const byId = uniqueName('fx');
    const byKey = uniqueName('fx');
    await createTopic(kafka, topic, 1);
    await createEffects(db.knex, byId);
    await createEffects(db.knex, byKey);
    const records = Array.from({ length: 10 }, (_, seq) => ({
      key: 'order-1',
      payload: { key: 'order-1', seq },
      id: `${topic}-id-${seq}`,
      idempotencyKey: 'payment:PAY-1',
    }));
    let idConsumer: InboxConsumer<{ key: string; seq: number }> | undefined;
    let keyConsumer: InboxConsumer<{ key: string; seq: number }> | undefined;
    try {
      idConsumer = await startConsumer(kafka, uniqueName('group'), [topic], {
        knex: db.knex,
        schema: db.schema,
        consumerName: uniqueName('by_id'),
        dedup: 'id',
        handler: recordEffect(byId, 'id'),
      });
      keyConsumer = await startConsumer(kafka, uniqueName('group'), [topic], {
        knex: db.knex,
        schema: db.schema,
        consumerName: uniqueName('by_key'),
        handler: recordEffect(byKey, 'idempotencyKey'),
      });
      // The same ten records twice: a re-publish.
      await publish(kafka, topic, records);
      await publish(kafka, topic, records);
      const [a, b] = [idConsumer, keyConsumer];
      await waitFor('20 records done by each', () => [a, b].every((c) => c.stats().handled + c.stats().duplicates === 20));
      expect(a.stats()).toMatchObject({ handled: 10, duplicates: 10, deadLettered: 0 });
      expect(b.stats()).toMatchObject({ handled: 1, duplicates: 19, deadLettered: 0 });
    } finally {
      await stop(idConsumer, keyConsumer);
    }
    const idRows = await effects(db.knex, byId);
    expect(idRows.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(new Set(idRows.map((r) => r.dedup_key)).size).toBe(10);
    expect((await effects(db.knex, byKey)).map((r) => r.seq)).toEqual([0]);
  });
});

describe('dedup by a function of the payload', () => {
  interface Order {
    orderId?: string;
    attempt: number;
    seq: number;
  }
  const byOrderId = (m: ConsumedMessage) => (m.payload as Order).orderId;

  it('records from a plain producer, each sent twice with different bytes: one effect per business id', async () => {
    const topic = uniqueName('plain');
    const table = uniqueName('fx');
    const groupId = uniqueName('group');
    await createTopic(kafka, topic, 2);
    await createEffects(db.knex, table);
    const orders = (attempt: number) =>
      Array.from({ length: 20 }, (_, seq) => ({
        key: `customer-${seq % 3}`,
        value: JSON.stringify({ orderId: `${topic}-ORD-${seq}`, attempt, seq }),
      }));
    let consumer: InboxConsumer<Order> | undefined;
    try {
      consumer = await startConsumer<Order>(kafka, groupId, [topic], {
        knex: db.knex,
        schema: db.schema,
        consumerName: uniqueName('orders'),
        dedup: byOrderId,
        handler: async (m, trx) => {
          await trx(table).insert({ key: m.key ?? '', seq: m.payload.seq, dedup_key: m.payload.orderId ?? '' });
        },
      });
      await sendPlain(topic, orders(1));
      await sendPlain(topic, orders(2));
      const c = consumer;
      await waitFor('40 records done', () => c.stats().handled + c.stats().duplicates === 40);
      await waitFor('every offset committed', async () => (await committedTotal(kafka, groupId, topic)) === 40);
      expect(c.stats()).toMatchObject({ handled: 20, duplicates: 20, deadLettered: 0 });
    } finally {
      await consumer?.stop();
    }
    const rows = await effects(db.knex, table);
    expect(rows).toHaveLength(20);
    expect(new Set(rows.map((r) => r.dedup_key)).size).toBe(20);
  });

  it('a record the function gives no key for, or throws on, is parked as a dead letter; the partition moves on', async () => {
    const topic = uniqueName('plain_bad');
    const table = uniqueName('fx');
    const groupId = uniqueName('group');
    const consumerName = uniqueName('orders');
    await createTopic(kafka, topic, 1);
    await createEffects(db.knex, table);
    const good = (seq: number) => ({ key: 'customer-1', value: JSON.stringify({ orderId: `${topic}-ORD-${seq}`, attempt: 1, seq }) });
    let consumer: InboxConsumer<Order> | undefined;
    try {
      consumer = await startConsumer<Order>(kafka, groupId, [topic], {
        knex: db.knex,
        schema: db.schema,
        consumerName,
        dedup: byOrderId,
        handler: async (m, trx) => {
          await trx(table).insert({ key: m.key ?? '', seq: m.payload.seq, dedup_key: m.payload.orderId ?? '' });
        },
      });
      // One partition, one key: the two bad records sit between good ones of the same key.
      await sendPlain(topic, [
        good(0),
        { key: 'customer-1', value: JSON.stringify({ attempt: 1, seq: 1 }) }, // no orderId: the function returns nothing
        good(2),
        { key: 'customer-1', value: 'not json' }, // reading the payload throws inside the function
        good(4),
        good(5),
      ]);
      const c = consumer;
      await waitFor('6 records done', () => c.stats().handled + c.stats().deadLettered === 6);
      await waitFor('every offset committed', async () => (await committedTotal(kafka, groupId, topic)) === 6);
      expect(c.stats()).toMatchObject({ handled: 4, deadLettered: 2, duplicates: 0 });
    } finally {
      await consumer?.stop();
    }
    expect((await effects(db.knex, table)).map((r) => r.seq)).toEqual([0, 2, 4, 5]);
    const parked = await new DeadLetters({ knex: db.knex, schema: db.schema }).list({ consumerName });
    expect(parked.map((d) => d.offset)).toEqual(['1', '3']);
    expect(parked[0]?.errors[0]?.message).toMatch(/the dedup function gave nothing/);
    expect(parked[1]?.errors[0]?.message).toMatch(/the dedup function threw/);
    expect(parked[1]?.value?.toString()).toBe('not json');
    expect(await count(`select count(*) n from ${onceflowTable(db, 'inbox')} where consumer = ?`, [consumerName])).toBe(4);
  });
});
