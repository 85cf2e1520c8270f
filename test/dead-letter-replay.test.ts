/**
 * Replay is faithful: a record with a binary key (not valid UTF-8), a null value (a
 * tombstone) and a repeated header is parked, replayed, and read back from Kafka byte for
 * byte, on the same partition.
 */
import type { InboxConsumer } from '@onceflow/consumer';
import { DeadLetters } from '@onceflow/consumer';
import { FatalHandlerError, migrate } from '@onceflow/core';
import { KafkaPublisher } from '@onceflow/kafka';
import type { IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { committedTotal, startConsumer, waitFor } from './support/consumer-helpers.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';

const PARTITIONS = 8;
let db: TestDatabase;
let kafka: Kafka;

beforeAll(async () => {
  db = await createTestDatabase(10);
  await migrate(db.knex, { schema: db.schema });
  kafka = testKafka('dead-letter-replay-test');
});
afterAll(async () => {
  await db?.drop();
});

const partitionOf = (() => {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: PARTITIONS }, (_, i) => ({
    partitionId: i,
    leader: 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));
  return (key: Buffer) => partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
})();

/** A key that is not valid UTF-8 and whose lossy UTF-8 decoding lands on another partition. */
function binaryKey(): Buffer {
  for (let i = 0; ; i++) {
    const key = Buffer.from([0xff, 0x00, 0xfe, i & 0xff, 0x80, (i >> 8) & 0xff]);
    if (partitionOf(key) !== partitionOf(Buffer.from(key.toString('utf8'), 'utf8'))) return key;
  }
}

async function readRaw(topic: string, count: number): Promise<Array<{ partition: number; message: KafkaMessage }>> {
  const consumer = kafka.consumer({ groupId: uniqueName('raw_reader'), maxWaitTimeInMs: 100 });
  const read: Array<{ partition: number; message: KafkaMessage }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          read.push({ partition, message });
          if (read.length >= count) resolve();
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return read.sort((a, b) => Number(a.message.offset) - Number(b.message.offset));
}

it('replays a binary key, a tombstone and repeated headers byte for byte, to the same partition, and so parks them on the dead-letter topic', async () => {
  const topic = uniqueName('replay');
  const deadLetterTopic = uniqueName('replay_dlq');
  await createTopic(kafka, topic, PARTITIONS);
  await createTopic(kafka, deadLetterTopic, PARTITIONS);
  const deadLetterPublisher = new KafkaPublisher(kafka);
  const key = binaryKey();
  const headers: IHeaders = {
    'onceflow-id': 'replay-1',
    'x-repeated': [Buffer.from([0x01, 0xff]), Buffer.from('second'), Buffer.alloc(0)],
    'x-binary': Buffer.from([0xc3, 0x28, 0x00]),
  };
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ key, value: null, headers }] });
  await producer.disconnect();

  const consumerName = uniqueName('replayer');
  const groupId = uniqueName('replay_group');
  let consumer: InboxConsumer | undefined;
  try {
    consumer = await startConsumer(kafka, groupId, [topic], {
      knex: db.knex,
      schema: db.schema,
      consumerName,
      deadLetterTopic,
      deadLetterPublisher,
      handler: async () => {
        throw new FatalHandlerError('not today');
      },
    });
    await waitFor('the record parked and its offset committed', async () => (await committedTotal(kafka, groupId, topic)) === 1);
  } finally {
    await consumer?.stop();
    await deadLetterPublisher.disconnect();
  }
  const [parked] = await readRaw(deadLetterTopic, 1);
  expect(parked?.partition).toBe(partitionOf(key));
  expect(parked?.message.key).toEqual(key);
  expect(parked?.message.value).toBeNull();
  expect(parked?.message.headers?.['x-repeated']).toEqual(headers['x-repeated']);
  expect(parked?.message.headers?.['x-binary']).toEqual(headers['x-binary']);
  expect(String(parked?.message.headers?.['onceflow-dead-letter-consumer'])).toBe(consumerName);
  const deadLetters = new DeadLetters({ knex: db.knex, schema: db.schema });
  const [letter] = await deadLetters.list({ consumerName });
  expect(letter?.value).toBeNull();
  expect(letter?.rawKey).toEqual(key);

  const publisher = new KafkaPublisher(kafka);
  await publisher.connect();
  try {
    expect(await deadLetters.replay([letter?.id as string], publisher)).toBe(1);
  } finally {
    await publisher.disconnect();
  }

  const [original, replayed] = await readRaw(topic, 2);
  expect(replayed?.partition).toBe(original?.partition);
  expect(replayed?.partition).toBe(partitionOf(key));
  expect(replayed?.message.key).toEqual(key);
  expect(replayed?.message.value).toBeNull();
  expect(replayed?.message.headers).toEqual(original?.message.headers);
  expect(replayed?.message.headers?.['x-repeated']).toEqual(headers['x-repeated']);
});
