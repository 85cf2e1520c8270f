/**
 * An order is paid, and a reward is granted once and only once.
 *
 * The shop service marks an order paid and enqueues `order.paid` in the same transaction;
 * a relay publishes it to Kafka; the rewards service grants points in a transaction that also
 * records the message in its inbox. The run then provokes the usual duplicates (a retried
 * payment, a relay that crashed before marking rows published) and shows that every reward
 * was still granted exactly once.
 *
 * Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), KAFKA_BROKERS.
 */
import { randomBytes } from 'node:crypto';
import { InboxConsumer } from '@onceflow/consumer';
import { createJsonLogger, migrate } from '@onceflow/core';
import { createKafka, KafkaPublisher, KafkaSubscriber } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import { Relay } from '@onceflow/relay';
import knexFactory from 'knex';

const ORDERS = 20;
const schema = 'onceflow_demo';
const run = randomBytes(3).toString('hex');
const topic = `demo.orders.paid.${run}`;
const say = (line: string) => process.stdout.write(`${line}\n`);
const logger = createJsonLogger((process.env.ONCEFLOW_LOG_LEVEL as 'info' | undefined) ?? 'warn');

const knex = knexFactory({
  client: 'pg',
  connection: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  pool: { min: 0, max: 10 },
});
const kafka = createKafka({ clientId: 'onceflow-demo', logger });

async function count(sql: string): Promise<number> {
  const result = await knex.raw(sql);
  return Number(result.rows[0].n);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  say(`Onceflow demo run ${run}: topic ${topic}, schema ${schema}`);
  await knex.raw(`drop schema if exists ${schema} cascade`);
  await knex.raw('drop schema if exists shop_demo cascade');
  await migrate(knex, { schema });
  await knex.raw('create schema shop_demo');
  await knex.raw(`create table shop_demo.orders (id text primary key, paid_at timestamptz)`);
  await knex.raw(
    `create table shop_demo.rewards (order_id text not null, points integer not null, granted_at timestamptz not null default now())`,
  );
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  say('1. migrations applied; business tables shop_demo.orders and shop_demo.rewards created; topic created');

  // --- the shop service: pay orders, each with its order.paid event in the same transaction ---
  const outbox = new OutboxWriter({ schema, knex });
  const pay = (orderId: string, paymentId: string, fail = false) =>
    knex.transaction(async (trx) => {
      await trx.raw(`insert into shop_demo.orders (id, paid_at) values (?, now()) on conflict (id) do update set paid_at = now()`, [
        orderId,
      ]);
      const sent = await outbox.enqueue(trx, {
        topic,
        key: orderId,
        type: 'order.paid',
        idempotencyKey: `payment:${paymentId}`,
        payload: { orderId, paymentId, points: 10 },
      });
      if (fail) throw new Error('card declined after the write');
      return sent;
    });
  for (let i = 1; i <= ORDERS; i++) await pay(`ORD-${i}`, `PAY-${i}`);
  const retried = await pay('ORD-1', 'PAY-1');
  await pay('ORD-999', 'PAY-999', true).catch(() => undefined);
  say(
    `2. ${ORDERS} orders paid; a retried payment of ORD-1 was recognised as duplicate=${retried.duplicate}; a declined payment rolled back`,
  );
  say(`   outbox rows: ${await count(`select count(*) as n from ${schema}.outbox`)}`);

  // --- the relay and the rewards service ---
  const relay = new Relay({ knex, schema, publisher: new KafkaPublisher(kafka), logger });
  const consumer = new InboxConsumer({
    knex,
    schema,
    consumerName: 'rewards',
    logger,
    subscriber: new KafkaSubscriber(kafka, {
      groupId: `demo-rewards-${run}`,
      topics: [topic],
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1_000,
    }),
    handler: async (message, trx) => {
      const { orderId, points } = message.payload as { orderId: string; points: number };
      await trx.raw('insert into shop_demo.rewards (order_id, points) values (?, ?)', [orderId, points]);
    },
  });
  await relay.start();
  await consumer.start();
  try {
    await waitFor('rewards', async () => (await count('select count(*) as n from shop_demo.rewards')) >= ORDERS);
    await waitFor('published', async () => (await count(`select count(*) as n from ${schema}.outbox where status <> 'published'`)) === 0);
    say(`3. relay published ${ORDERS} messages; rewards granted: ${await count('select count(*) as n from shop_demo.rewards')}`);

    // A relay that crashes after Kafka acknowledged but before it marked the rows publishes them again.
    await knex.raw(`update ${schema}.outbox set status = 'pending', published_at = null`);
    await waitFor('duplicates skipped', async () => consumer.stats().duplicates >= ORDERS);
    say(`4. simulated a relay crash before marking: all ${ORDERS} messages were published again`);

    const rewards = await count('select count(*) as n from shop_demo.rewards');
    const perOrder = await count('select max(c) as n from (select count(*) as c from shop_demo.rewards group by order_id) t');
    const stats = consumer.stats();
    say(`5. rewards service: handled ${stats.handled}, duplicates skipped ${stats.duplicates}`);
    say(`   rewards rows: ${rewards} for ${ORDERS} orders; most rewards for one order: ${perOrder}`);
    if (rewards !== ORDERS || perOrder !== 1) throw new Error('a reward was granted more than once or not at all');
    say('Each reward was granted exactly once.');
  } finally {
    await consumer.stop();
    await relay.stop();
  }
}

try {
  await main();
} finally {
  await knex.destroy();
}
