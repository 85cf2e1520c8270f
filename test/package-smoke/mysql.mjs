// Package smoke test on MySQL/MariaDB: run inside a fresh app that installed the packed tarballs
// and mysql2. The same path as esm.mjs (migrate, enqueue twice per key in transactions, relay,
// consume with the inbox, force a re-publish of everything) against MARIADB_URL, asserting each
// effect happened exactly once. The Onceflow schema is a database of its own, as on MySQL a
// database plays the part of a schema.
// Env: MARIADB_URL (default mysql://root@127.0.0.1:3306), KAFKA_BROKERS.
import { randomBytes } from 'node:crypto';
import { InboxConsumer } from '@onceflow/consumer';
import { createKafka, KafkaPublisher, KafkaSubscriber } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import { migrate, Relay } from '@onceflow/relay';
import knexFactory from 'knex';

const MESSAGES = 5;
const id = randomBytes(4).toString('hex');
const schema = `smoke_${id}`;
const app = `smoke_${id}_app`;
const topic = `smoke.effects.${id}`;
const url = new URL(process.env.MARIADB_URL ?? 'mysql://root@127.0.0.1:3306');
const knex = knexFactory({
  client: 'mysql2',
  connection: {
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
  },
});
const kafka = createKafka({ clientId: `smoke-${id}` });

const rows = async (sql, bindings = []) => (await knex.raw(sql, bindings))[0];
const effects = async () => Number((await rows(`select count(*) as n from ${app}.effects`))[0].n);
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
  await knex.raw(`create database ${app}`);
  await knex.raw(
    `create table ${app}.effects (business_key varchar(64) not null, applied_at datetime(6) not null default current_timestamp(6))`,
  );
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();

  const outbox = new OutboxWriter({ knex, schema });
  for (let i = 0; i < MESSAGES; i++) {
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
      await trx.raw(`insert into ${app}.effects (business_key) values (?)`, [message.idempotencyKey]);
    },
  });
  await relay.start();
  await consumer.start();
  await until('the effects', async () => (await effects()) >= MESSAGES);
  await until(
    'every row published',
    async () => Number((await rows(`select count(*) as n from ${schema}.outbox where status <> 'published'`))[0].n) === 0,
  );
  await knex.raw(`update ${schema}.outbox set status = 'pending', published_at = null`);
  await until('the re-published copies to be skipped', async () => consumer.stats().duplicates >= MESSAGES);

  const perKey = await rows(`select business_key, count(*) as n from ${app}.effects group by business_key`);
  if (perKey.length !== MESSAGES || perKey.some((r) => Number(r.n) !== 1)) {
    throw new Error(`smoke: expected ${MESSAGES} effects, one per key; got ${JSON.stringify(perKey)}`);
  }
  console.log(
    `mysql: ${MESSAGES} messages on MariaDB/MySQL, each effect exactly once (duplicates skipped: ${consumer.stats().duplicates}) on Node ${process.version}`,
  );
} finally {
  await consumer?.stop();
  await relay?.stop();
  await knex.raw(`drop database if exists ${schema}`).catch(() => undefined);
  await knex.raw(`drop database if exists ${app}`).catch(() => undefined);
  await knex.destroy();
}
