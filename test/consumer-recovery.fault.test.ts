/**
 * A Kafka outage under a running consumer: kafkajs's consumer crashes (and is restarted by
 * kafkajs, or replaced by the subscriber when kafkajs gives up on it), and consumption resumes
 * by itself once the broker is back, with every effect exactly once.
 */

import { InboxConsumer } from '@onceflow/consumer';
import type { LogFields, Logger } from '@onceflow/core';
import { migrate } from '@onceflow/core';
import { createKafka, defaultBrokers, KafkaSubscriber } from '@onceflow/kafka';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEffects, effects, fastGroup, publish, waitFor } from './support/consumer-helpers.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic } from './support/kafka.ts';
import { kafkaControl } from './support/relay-processes.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(10);
  await migrate(db.knex);
  await createEffects(db.knex);
});
afterAll(async () => {
  await kafkaControl('start');
  await db?.drop();
});

function recordingLogger(lines: string[]): Logger {
  const write = (_fields: LogFields, message: string) => {
    lines.push(message);
  };
  const logger: Logger = { debug: write, info: write, warn: write, error: write, child: () => logger };
  return logger;
}

it('resumes by itself after a broker outage, without double effects', async () => {
  const topic = uniqueName('recovery');
  // Few kafkajs retries, so it gives up well within the outage.
  const kafka = createKafka({ brokers: defaultBrokers(), clientId: 'recovery-test', retries: 2, connectionTimeoutMs: 1_000 });
  await createTopic(createKafka({ brokers: defaultBrokers(), retries: 8 }), topic, 2);
  const lines: string[] = [];
  const consumer = new InboxConsumer({
    knex: db.knex,
    consumerName: 'recovery',
    subscriber: new KafkaSubscriber(kafka, {
      groupId: uniqueName('recovery_group'),
      topics: [topic],
      ...fastGroup,
      logger: recordingLogger(lines),
    }),
    handler: async (message, trx) => {
      const { i } = message.payload as { i: number };
      await trx.raw('insert into effects (key, seq, dedup_key) values (?, ?, ?)', [message.key, i, message.idempotencyKey ?? '']);
    },
  });
  const publisher = createKafka({ brokers: defaultBrokers(), clientId: 'recovery-publisher', retries: 10 });
  await consumer.start();
  try {
    await publish(
      publisher,
      topic,
      Array.from({ length: 50 }, (_, i) => ({ key: `k${i % 5}`, payload: { i }, idempotencyKey: `before-${i}` })),
    );
    await waitFor('the first 50 handled', () => consumer.stats().handled === 50);

    await kafkaControl('stop');
    await waitFor('the consumer to notice the outage', () => lines.some((l) => l.startsWith('Kafka consumer crashed')), 60_000);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    await kafkaControl('start');

    await publish(
      publisher,
      topic,
      Array.from({ length: 50 }, (_, i) => ({ key: `k${i % 5}`, payload: { i }, idempotencyKey: `after-${i}` })),
    );
    await waitFor('the next 50 handled after the outage', () => consumer.stats().handled === 100, 120_000);
    const rows = await effects(db.knex);
    expect(rows).toHaveLength(100);
    expect(new Set(rows.map((r) => r.dedup_key)).size).toBe(100);
  } finally {
    await consumer.stop();
  }
});
