import { InboxConsumer } from '@onceflow/consumer';
import { migrate } from '@onceflow/core';
import { createKafka, defaultBrokers, KafkaPublisher, KafkaSubscriber } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import { Relay } from '@onceflow/relay';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic } from './support/kafka.ts';
import { waitFor } from './support/wait.ts';

let db: TestDatabase;
const kafka = createKafka({ brokers: defaultBrokers(), clientId: 'e2e', retries: 8 });

beforeAll(async () => {
  db = await createTestDatabase(20);
  await migrate(db.knex, { schema: db.schema });
  await db.knex.raw('create table rewards (order_id varchar(64) not null, message_id varchar(64) not null, points integer not null)');
});
afterAll(async () => {
  await db?.drop();
});

async function count(sql: string): Promise<number> {
  const rows = await db.rows<{ n: unknown }>(sql.replaceAll('onceflow.', `${db.schema}.`));
  return Number(rows[0]?.n);
}

it('delivers exactly the committed messages once each, and skips every re-published copy', async () => {
  const topic = uniqueName('e2e_orders');
  await createTopic(kafka, topic, 3);
  const outbox = new OutboxWriter({ schema: db.schema });

  // 100 producer transactions of 10 messages; every fifth one rolls back.
  const committed = new Set<string>();
  for (let wave = 0; wave < 10; wave++) {
    await Promise.all(
      Array.from({ length: 10 }, async (_, j) => {
        const t = wave * 10 + j;
        const rollback = t % 5 === 4;
        await db.knex
          .transaction(async (trx) => {
            const sent = await outbox.enqueue(
              trx,
              Array.from({ length: 10 }, (_, i) => ({
                topic,
                key: `order-${(t * 10 + i) % 37}`,
                payload: { order: `order-${(t * 10 + i) % 37}`, points: i + 1 },
                idempotencyKey: `payment:${t}-${i}`,
                type: 'order.paid',
              })),
            );
            if (rollback) throw new Error('business rule failed');
            for (const m of sent) committed.add(m.id);
          })
          .catch((error: unknown) => {
            if (!rollback) throw error;
          });
      }),
    );
  }
  expect(committed.size).toBe(800);
  expect(await count('select count(*) as n from onceflow.outbox')).toBe(800);

  const relay = new Relay({ knex: db.knex, schema: db.schema, publisher: new KafkaPublisher(kafka), pollIntervalMs: 200 });
  const consumer = new InboxConsumer({
    knex: db.knex,
    schema: db.schema,
    subscriber: new KafkaSubscriber(kafka, {
      groupId: uniqueName('e2e_group'),
      topics: [topic],
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
    }),
    consumerName: 'rewards',
    handler: async (message, trx) => {
      const payload = message.payload as { order: string; points: number };
      await trx.raw('insert into rewards (order_id, message_id, points) values (?, ?, ?)', [
        payload.order,
        message.id ?? '',
        payload.points,
      ]);
    },
  });
  await relay.start();
  await consumer.start();
  try {
    await waitFor('800 rewards', async () => (await count('select count(*) as n from rewards')) >= 800);
    await waitFor(
      'all rows marked published',
      async () => (await count(`select count(*) as n from onceflow.outbox where status = 'published'`)) === 800,
    );
    expect(consumer.stats().handled).toBe(800);
    const handledIds = await db.rows<{ message_id: string }>('select distinct message_id from rewards');
    expect(new Set(handledIds.map((r) => r.message_id))).toEqual(committed);

    // A relay that crashed after publishing but before marking publishes everything again.
    await db.knex.raw(`update ${db.schema}.outbox set status = 'pending', published_at = null`);
    await waitFor('800 duplicates skipped', async () => consumer.stats().duplicates >= 800);
    await waitFor(
      'republished rows marked',
      async () => (await count(`select count(*) as n from onceflow.outbox where status = 'published'`)) === 800,
    );
    expect(consumer.stats().duplicates).toBe(800);
    expect(consumer.stats().handled).toBe(800);
    expect(await count('select count(*) as n from rewards')).toBe(800);
    expect(await count(`select count(*) as n from onceflow.inbox where consumer = 'rewards'`)).toBe(800);
  } finally {
    await consumer.stop();
    await relay.stop();
  }
});
