/**
 * Retry lanes are capped: messages of many keys waiting for their retries split off lanes of
 * their own, yet no more than `concurrency` transactions of one batch run at once.
 */
import type { ConsumedMessage, InboxConsumer } from '@onceflow/consumer';
import { migrate } from '@onceflow/core';
import type { Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedTotal, publish, startConsumer, waitFor } from './support/consumer-helpers.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';

let db: TestDatabase;
let kafka: Kafka;

beforeAll(async () => {
  db = await createTestDatabase(30);
  await migrate(db.knex, { schema: db.schema });
  await db.knex.schema.createTable('lane_effects', (t) => t.text('key').notNullable());
  kafka = testKafka('consumer-lanes-test');
});
afterAll(async () => {
  await db?.drop();
});

describe('retry lanes', () => {
  it('run at most `concurrency` transactions at once while many keys wait for their retries', async () => {
    const topic = uniqueName('lanes');
    await createTopic(kafka, topic);
    const groupId = uniqueName('lanes_group');
    const keys = Array.from({ length: 16 }, (_, i) => `key-${i}`);
    const failedOnce = new Set<string>();
    let running = 0;
    let most = 0;
    const handler = async (m: ConsumedMessage, trx: Knex.Transaction) => {
      running++;
      most = Math.max(most, running);
      try {
        const key = m.key as string;
        // Every message fails its first attempt, so every key splits off a lane to wait in.
        if (!failedOnce.has(key)) {
          failedOnce.add(key);
          throw new Error(`first attempt of ${key} fails`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
        await trx('lane_effects').insert({ key });
      } finally {
        running--;
      }
    };
    let consumer: InboxConsumer | undefined;
    try {
      consumer = await startConsumer(kafka, groupId, [topic], {
        knex: db.knex,
        schema: db.schema,
        consumerName: uniqueName('lanes'),
        handler,
        concurrency: 2,
        maxMessagesPerTransaction: 1,
        retryMinDelayMs: 50,
        retryMaxDelayMs: 60,
      });
      await publish(
        kafka,
        topic,
        keys.map((key) => ({ key, payload: { key } })),
      );
      await waitFor('every offset committed', async () => (await committedTotal(kafka, groupId, topic)) === keys.length);
      expect(consumer.stats()).toMatchObject({ handled: keys.length, retried: keys.length, deadLettered: 0 });
      expect(failedOnce.size).toBe(keys.length);
      expect(most).toBeLessThanOrEqual(2);
      const rows = (await db.knex('lane_effects').select('key')).map((r: { key: string }) => r.key);
      expect(rows.sort()).toEqual([...keys].sort());
    } finally {
      await consumer?.stop();
    }
  });
});
