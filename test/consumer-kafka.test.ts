import type { ConsumedMessage, InboxConsumer } from '@onceflow/consumer';
import { DeadLetterError, DeadLetterHeaders, DeadLetters, DedupKeyError, MysqlLeaseStore, PostgresLeaseStore } from '@onceflow/consumer';
import { FatalHandlerError, migrate } from '@onceflow/core';
import { KafkaPublisher } from '@onceflow/kafka';
import type { Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedTotal, createEffects, effects, orderViolation, publish, startConsumer, waitFor } from './support/consumer-helpers.ts';
import { lockWaits } from './support/consumer-matrix.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, readTopic, testKafka } from './support/kafka.ts';

interface Payload {
  key: string;
  seq: number;
  poison?: boolean;
  fatal?: boolean;
}

let db: TestDatabase;
let kafka: Kafka;

beforeAll(async () => {
  db = await createTestDatabase(12);
  await migrate(db.knex, { schema: db.schema });
  kafka = testKafka('consumer-kafka-test');
});
afterAll(async () => {
  await db?.drop();
});

async function stopAll(consumers: Array<InboxConsumer<Payload> | undefined>): Promise<void> {
  await Promise.all(consumers.map((c) => c?.stop()));
}

const insertEffect = (table: string, consumer?: string) => async (m: ConsumedMessage<Payload>, trx: Knex.Transaction) => {
  await trx(table).insert({ key: m.payload.key, seq: m.payload.seq, dedup_key: m.idempotencyKey, consumer });
};

describe('InboxConsumer on Kafka', () => {
  it('two copies handled at the same moment by two groups sharing one inbox name: one effect, the second waited and skipped', async () => {
    const topic = uniqueName('twin');
    const table = uniqueName('fx');
    await createTopic(kafka, topic, 1);
    await createEffects(db.knex, table);
    const consumerName = uniqueName('rewards');
    const calls: string[] = [];
    const handler = (who: string) => async (m: ConsumedMessage<Payload>, trx: Knex.Transaction) => {
      calls.push(who);
      await insertEffect(table, who)(m, trx);
      // Hold this transaction open until the other group's copy is blocked on our inbox row.
      await waitFor('the other copy to wait on the inbox row', async () => {
        return (await lockWaits(db, 'insert into', 'inbox')) === 1;
      });
    };
    let a: InboxConsumer<Payload> | undefined;
    let b: InboxConsumer<Payload> | undefined;
    try {
      [a, b] = await Promise.all([
        startConsumer<Payload>(kafka, uniqueName('group_a'), [topic], {
          knex: db.knex,
          schema: db.schema,
          consumerName,
          handler: handler('a'),
        }),
        startConsumer<Payload>(kafka, uniqueName('group_b'), [topic], {
          knex: db.knex,
          schema: db.schema,
          consumerName,
          handler: handler('b'),
        }),
      ]);
      await publish(kafka, topic, [{ key: 'order-1', payload: { key: 'order-1', seq: 1 }, idempotencyKey: 'payment:PAY-981' }]);
      await waitFor('both groups to finish the message', () => {
        const s = [a?.stats(), b?.stats()];
        return s.every((x) => x !== undefined && x.handled + x.duplicates === 1);
      });
      const stats = [a.stats(), b.stats()].sort((x, y) => y.handled - x.handled);
      expect(stats[0]).toMatchObject({ handled: 1, duplicates: 0 });
      expect(stats[1]).toMatchObject({ handled: 0, duplicates: 1 });
      expect(calls).toHaveLength(1);
      expect(await effects(db.knex, table)).toHaveLength(1);
    } finally {
      await stopAll([a, b]);
    }
  });

  it('a message waiting for its retry holds up only its partition: the others are fetched and handled meanwhile', async () => {
    const topic = uniqueName('stall');
    const table = uniqueName('fx');
    await createTopic(kafka, topic, 2);
    await createEffects(db.knex, table);
    const attempts = new Map<number, number>();
    const handledAt = new Map<string, number>();
    const handler = async (m: ConsumedMessage<Payload>, trx: Knex.Transaction) => {
      if (m.partition === 0) {
        const n = (attempts.get(m.payload.seq) ?? 0) + 1;
        attempts.set(m.payload.seq, n);
        if (n === 1) throw new Error('downstream busy, try again');
      }
      await insertEffect(table)(m, trx);
    };
    const groupId = uniqueName('group');
    let consumer: InboxConsumer<Payload> | undefined;
    try {
      consumer = await startConsumer<Payload>(kafka, groupId, [topic], {
        knex: db.knex,
        schema: db.schema,
        consumerName: uniqueName('stall'),
        handler,
        retryMinDelayMs: 2_000,
        retryMaxDelayMs: 2_000,
      });
      consumer.events.on('inbox:handled', ({ message }) => handledAt.set(`${message.partition}:${message.offset}`, Date.now()));
      const send = (partition: number, count: number) =>
        publish(
          kafka,
          topic,
          Array.from({ length: count }, (_, seq) => ({
            partition,
            key: `p${partition}`,
            payload: { key: `p${partition}`, seq },
            idempotencyKey: `${topic}:${partition}:${seq}`,
          })),
        );
      await send(0, 1);
      await waitFor('the first attempt on partition 0 to fail', () => attempts.get(0) === 1);
      const failedAt = Date.now();
      // Fetched and handled while partition 0 waits 2 s for its retry.
      await send(1, 20);
      await waitFor('partition 1 handled', () => [...handledAt.keys()].filter((k) => k.startsWith('1:')).length === 20);
      // All of partition 1 was handled while partition 0's message still waited for its retry
      // (an order, not a duration: a loaded machine only makes the wait look longer).
      expect(handledAt.has('0:0')).toBe(false);
      await waitFor('the retry on partition 0', () => handledAt.has('0:0'));
      expect(attempts.get(0)).toBe(2);
      expect((handledAt.get('0:0') as number) - failedAt).toBeGreaterThanOrEqual(1_900);
      const rows = await effects(db.knex, table);
      expect(rows).toHaveLength(21);
      expect(orderViolation(rows)).toBeNull();
      await waitFor('every offset committed', async () => (await committedTotal(kafka, groupId, topic)) === 21);
    } finally {
      await stopAll([consumer]);
    }
  });

  it('parks poison after maxAttempts and fatal errors at once, keeps the partition moving, lists and replays dead letters', async () => {
    const topic = uniqueName('poison');
    const dlq = uniqueName('poison_dlq');
    const table = uniqueName('fx');
    await createTopic(kafka, topic, 1);
    await createTopic(kafka, dlq, 1);
    await createEffects(db.knex, table);
    const consumerName = uniqueName('billing');
    let healthy = false;
    const attempts = new Map<string, number>();
    const handler = async (m: ConsumedMessage<Payload>, trx: Knex.Transaction) => {
      attempts.set(m.idempotencyKey as string, (attempts.get(m.idempotencyKey as string) ?? 0) + 1);
      if (m.payload.fatal) throw new FatalHandlerError('order total is negative');
      if (m.payload.poison && !healthy) throw new Error('downstream rejects this order');
      await insertEffect(table)(m, trx);
    };
    const records = Array.from({ length: 40 }, (_, i) => {
      const key = `k${i % 4}`;
      const seq = Math.floor(i / 4);
      return { key, payload: { key, seq, poison: i === 9, fatal: i === 22 } as Payload, idempotencyKey: `${topic}:${i}` };
    });
    records.push({ key: 'foreign', payload: { key: 'foreign', seq: 0 }, idempotencyKey: 'x', bare: true } as never);
    const publisher = new KafkaPublisher(kafka);
    const groupId = uniqueName('group');
    let consumer: InboxConsumer<Payload> | undefined;
    try {
      await publisher.connect();
      consumer = await startConsumer<Payload>(kafka, groupId, [topic], {
        knex: db.knex,
        schema: db.schema,
        consumerName,
        handler,
        maxAttempts: 3,
        concurrency: 4,
        deadLetterTopic: dlq,
        deadLetterPublisher: publisher,
      });
      await publish(kafka, topic, records);
      await waitFor('38 handled and 3 parked', () => consumer?.stats().handled === 38 && consumer.stats().deadLettered === 3);
      expect(attempts.get(`${topic}:9`)).toBe(3);
      expect(attempts.get(`${topic}:22`)).toBe(1);
      expect(consumer.stats().retried).toBe(2);
      const rows = await effects(db.knex, table);
      expect(rows).toHaveLength(38);
      expect(orderViolation(rows)).toBeNull();
      // The partition moved past the parked messages: every offset is committed.
      await waitFor('all 41 offsets committed', async () => (await committedTotal(kafka, groupId, topic)) === 41, 10_000);

      const deadLetters = new DeadLetters({ knex: db.knex, schema: db.schema });
      // Lanes run in parallel, so parking order is not offset order; sort for the assertions.
      const parked = (await deadLetters.list({ consumerName })).sort((x, y) => Number(x.offset) - Number(y.offset));
      expect(parked.map((d) => [d.key, d.attempts, d.errors.length])).toEqual([
        ['k1', 3, 3],
        ['k2', 1, 1],
        ['foreign', 0, 1],
      ]);
      expect(parked.map((d) => d.offset)).toEqual(['9', '22', '40']);
      expect(parked[0]?.errors.map((e) => e.message)).toEqual(Array(3).fill('downstream rejects this order'));
      expect(parked[1]?.errors[0]).toMatchObject({ name: 'FatalHandlerError', code: 'ONCEFLOW_HANDLER' });
      expect(parked[2]?.errors[0]).toMatchObject({ name: DedupKeyError.name, code: 'ONCEFLOW_DEDUP_KEY' });
      expect(parked[2]?.errors[0]?.message).toContain("configure dedup 'id'");

      const dead = await readTopic(kafka, dlq, 3, 30_000);
      expect(dead).toHaveLength(3);
      expect(dead.map((r) => r.headers[DeadLetterHeaders.source])).toContain(`${topic}/0@9`);

      healthy = true;
      expect(await deadLetters.replay([parked[0]?.id as string], publisher)).toBe(1);
      await waitFor('the replayed message', () => consumer?.stats().handled === 39);
      expect(await effects(db.knex, table)).toHaveLength(39);
      expect((await deadLetters.list({ consumerName })).map((d) => d.key).sort()).toEqual(['foreign', 'k2']);
      expect((await deadLetters.get(parked[0]?.id as string)).replayedAt).toBeInstanceOf(Date);
      await expect(deadLetters.replay([parked[0]?.id as string], publisher)).rejects.toBeInstanceOf(DeadLetterError);
    } finally {
      await consumer?.stop();
      await publisher.disconnect();
    }
  });

  it('batch mode: one transaction per fetched batch with only new messages; poison is isolated and parked', async () => {
    const topic = uniqueName('batch');
    const table = uniqueName('fx');
    await createTopic(kafka, topic, 2);
    await createEffects(db.knex, table);
    const records = Array.from({ length: 300 }, (_, i) => ({
      key: `k${i % 10}`,
      payload: { key: `k${i % 10}`, seq: i, poison: i === 150 } as Payload,
      idempotencyKey: `${topic}:${i}`,
    }));
    let calls = 0;
    let consumer: InboxConsumer<Payload> | undefined;
    try {
      await publish(kafka, topic, records);
      await publish(kafka, topic, records);
      consumer = await startConsumer<Payload>(kafka, uniqueName('group'), [topic], {
        knex: db.knex,
        schema: db.schema,
        consumerName: uniqueName('batcher'),
        maxAttempts: 2,
        batchHandler: async (messages, trx) => {
          calls++;
          if (messages.some((m) => m.payload.poison)) throw new Error('cannot apply this batch');
          await trx(table).insert(messages.map((m) => ({ key: m.payload.key, seq: m.payload.seq, dedup_key: m.idempotencyKey })));
        },
      });
      await waitFor('all 600 records', () => {
        const s = consumer?.stats();
        return s !== undefined && s.handled + s.duplicates + s.deadLettered === 600;
      });
      const s = consumer.stats();
      expect(s.handled).toBe(299);
      // Both delivered copies of the poison failed, so each was parked (at its own offset).
      expect(s.deadLettered).toBe(2);
      const rows = await effects(db.knex, table);
      expect(rows).toHaveLength(299);
      expect(new Set(rows.map((r) => r.dedup_key)).size).toBe(299);
      expect(orderViolation(rows)).toBeNull();
      expect(calls).toBeLessThan(200);
    } finally {
      await consumer?.stop();
    }
  });

  it('side-effect mode through Kafka: each effect once under redelivered copies', async () => {
    const topic = uniqueName('mail');
    await createTopic(kafka, topic, 2);
    const records = Array.from({ length: 60 }, (_, i) => ({
      key: `u${i % 6}`,
      payload: { key: `u${i % 6}`, seq: i } as Payload,
      idempotencyKey: `${topic}:${i}`,
    }));
    const sent: string[] = [];
    const groupId = uniqueName('group');
    let consumer: InboxConsumer<Payload> | undefined;
    try {
      await publish(kafka, topic, [...records, ...records]);
      consumer = await startConsumer<Payload>(kafka, groupId, [topic], {
        knex: db.knex,
        schema: db.schema,
        consumerName: uniqueName('mailer'),
        leaseStore:
          db.dialect === 'mysql'
            ? new MysqlLeaseStore({ knex: db.knex, schema: db.schema })
            : new PostgresLeaseStore({ knex: db.knex, schema: db.schema }),
        leaseMs: 10_000,
        effectHandler: async (m, lease) => {
          expect(lease.fencingToken).toBe(1);
          sent.push(m.idempotencyKey as string);
        },
      });
      await waitFor('120 records', () => {
        const s = consumer?.stats();
        return s !== undefined && s.handled + s.duplicates === 120;
      });
      expect(consumer.stats()).toMatchObject({ handled: 60, duplicates: 60, fenced: 0 });
      expect(new Set(sent).size).toBe(60);
      expect(sent).toHaveLength(60);
      await waitFor('offsets committed', async () => (await committedTotal(kafka, groupId, topic)) === 120, 10_000);
    } finally {
      await consumer?.stop();
    }
  });
});
