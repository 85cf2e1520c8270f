// Package smoke test, ESM: run inside a fresh app that installed the packed tarballs.
// Migrates a fresh schema, enqueues in a transaction, relays, consumes with the inbox, forces a
// re-publish of every message, and asserts each effect happened exactly once.
// Env: DATABASE_URL, KAFKA_BROKERS.
import { randomBytes } from 'node:crypto';
import { InboxConsumer } from '@onceflow/consumer';
import { createKafka, KafkaPublisher, KafkaSubscriber } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import { migrate, Relay } from '@onceflow/relay';
import knexFactory from 'knex';

const MESSAGES = 5;
const id = randomBytes(4).toString('hex');
const schema = `smoke_${id}`;
const topic = `smoke.effects.${id}`;
const knex = knexFactory({ client: 'pg', connection: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
const kafka = createKafka({ clientId: `smoke-${id}` });

const effects = async () => Number((await knex.raw(`select count(*) as n from ${schema}_app.effects`)).rows[0].n);
async function until(what, check) {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`smoke: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let relay;
let consumer;
try {
  await migrate(knex, { schema });
  await knex.raw(`create schema ${schema}_app`);
  await knex.raw(`create table ${schema}_app.effects (business_key text not null, applied_at timestamptz not null default now())`);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();

  const outbox = new OutboxWriter({ knex, schema });
  for (let i = 0; i < MESSAGES; i++) {
    // Enqueued twice, as a retried request would: one message per idempotency key.
    for (let copy = 0; copy < 2; copy++) {
      await knex.transaction((trx) => outbox.enqueue(trx, { topic, key: `k${i}`, idempotencyKey: `event-${i}`, payload: { i } }));
    }
  }

  relay = new Relay({ knex, schema, publisher: new KafkaPublisher(kafka) });
  consumer = new InboxConsumer({
    knex,
    schema,
    consumerName: 'smoke',
    subscriber: new KafkaSubscriber(kafka, { groupId: `smoke-${id}`, topics: [topic] }),
    handler: async (message, trx) => {
      await trx.raw(`insert into ${schema}_app.effects (business_key) values (?)`, [message.idempotencyKey]);
    },
  });
  await relay.start();
  await consumer.start();
  await until('the effects', async () => (await effects()) >= MESSAGES);
  await until('every row published', async () => {
    const r = await knex.raw(`select count(*) as n from ${schema}.outbox where status <> 'published'`);
    return Number(r.rows[0].n) === 0;
  });
  // A relay that died after Kafka's ack but before marking its rows publishes them again.
  await knex.raw(`update ${schema}.outbox set status = 'pending', published_at = null`);
  await until('the re-published copies to be skipped', async () => consumer.stats().duplicates >= MESSAGES);

  const perKey = await knex.raw(`select business_key, count(*)::int as n from ${schema}_app.effects group by business_key`);
  if (perKey.rows.length !== MESSAGES || perKey.rows.some((r) => r.n !== 1)) {
    throw new Error(`smoke: expected ${MESSAGES} effects, one per key; got ${JSON.stringify(perKey.rows)}`);
  }
  console.log(
    `esm: ${MESSAGES} messages, each effect exactly once (duplicates skipped: ${consumer.stats().duplicates}) on Node ${process.version}`,
  );
} finally {
  await consumer?.stop();
  await relay?.stop();
  await knex.raw(`drop schema if exists ${schema} cascade`).catch(() => undefined);
  await knex.raw(`drop schema if exists ${schema}_app cascade`).catch(() => undefined);
  await knex.destroy();
}
