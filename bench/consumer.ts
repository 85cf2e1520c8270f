// `pnpm bench consumer [--messages N] [--partitions P]`: consumes N messages whose handler
// inserts one business row, (a) through InboxConsumer in transactional mode, (b) in batch mode,
// (c) with a bare at-least-once kafkajs consumer doing the same insert without dedup, in one
// run against the same broker and database. Each rate is measured from the first message seen
// to the last one finished, so group joins do not count. Last line: JSON.
import { randomBytes } from 'node:crypto';
import type { ConsumedMessage } from '@onceflow/consumer';
import { InboxConsumer } from '@onceflow/consumer';
import { HeaderNames, migrate } from '@onceflow/core';
import { createKafka, defaultBrokers, KafkaSubscriber } from '@onceflow/kafka';
import type { Kafka } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import type { Knex } from 'knex';
import knexFactory from 'knex';

interface Payload {
  key: string;
  seq: number;
}

interface Args {
  messages: number;
  partitions: number;
  keys: number;
  pool: number;
}

function parseArgs(args: string[]): Args {
  const out: Args = { messages: 100_000, partitions: 4, keys: 1_000, pool: 10 };
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]?.replace(/^--/, '') as keyof Args;
    const value = Number(args[i + 1]);
    if (!(name in out) || !Number.isInteger(value) || value < 1)
      throw new Error(`usage: pnpm bench consumer [--messages N] [--partitions P] [--keys K] [--pool C]; got ${args.join(' ')}`);
    out[name] = value;
  }
  return out;
}

const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function publishAll(kafka: Kafka, topic: string, a: Args): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const chunk = 5_000;
    for (let start = 0; start < a.messages; start += chunk) {
      const messages = [];
      for (let i = start; i < Math.min(a.messages, start + chunk); i++) {
        const key = `order-${i % a.keys}`;
        messages.push({
          key,
          value: JSON.stringify({ key, seq: i }),
          headers: { [HeaderNames.id]: `id-${i}`, [HeaderNames.idempotencyKey]: `${topic}:${i}` },
        });
      }
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Times from the first message seen to the `total`-th finished. */
class Clock {
  first = 0;
  last = 0;
  done = 0;
  #resolve: () => void = () => undefined;
  readonly finished: Promise<void>;

  readonly total: number;

  constructor(total: number) {
    this.total = total;
    this.finished = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  seen(): void {
    if (this.first === 0) this.first = performance.now();
  }

  add(n: number): void {
    this.done += n;
    if (this.done >= this.total && this.last === 0) {
      this.last = performance.now();
      this.#resolve();
    }
  }

  rate(): number {
    return Math.round(this.total / ((this.last - this.first) / 1_000));
  }
}

async function runInbox(kafka: Kafka, knex: Knex, topic: string, a: Args, mode: 'transactional' | 'batch'): Promise<number> {
  const table = `bench_${mode}`;
  const clock = new Clock(a.messages);
  const subscriber = new KafkaSubscriber(kafka, {
    groupId: `bench_${mode}_${topic}`,
    topics: [topic],
    partitionsConsumedConcurrently: a.partitions,
  });
  const common = { knex, subscriber, consumerName: `bench_${mode}_${topic}` };
  const consumer =
    mode === 'transactional'
      ? new InboxConsumer<Payload>({
          ...common,
          handler: async (m: ConsumedMessage<Payload>, trx: Knex.Transaction) => {
            clock.seen();
            await trx(table).insert({ key: m.payload.key, seq: m.payload.seq });
          },
        })
      : new InboxConsumer<Payload>({
          ...common,
          batchHandler: async (messages: ConsumedMessage<Payload>[], trx: Knex.Transaction) => {
            clock.seen();
            await trx(table).insert(messages.map((m) => ({ key: m.payload.key, seq: m.payload.seq })));
          },
        });
  consumer.events.on('inbox:handled', () => clock.add(1));
  consumer.events.on('inbox:duplicate', () => clock.add(1));
  await consumer.start();
  try {
    await clock.finished;
  } finally {
    await consumer.stop();
  }
  const rows = Number((await knex.raw(`select count(*) n from ${table}`)).rows[0].n);
  if (rows !== a.messages) throw new Error(`${mode}: expected ${a.messages} business rows, found ${rows}`);
  return clock.rate();
}

async function runBare(kafka: Kafka, knex: Knex, topic: string, a: Args): Promise<number> {
  const clock = new Clock(a.messages);
  const consumer = kafka.consumer({ groupId: `bench_bare_${topic}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: a.partitions,
    eachMessage: async ({ message }) => {
      clock.seen();
      const payload = JSON.parse((message.value as Buffer).toString('utf8')) as Payload;
      await knex('bench_bare').insert({ key: payload.key, seq: payload.seq });
      clock.add(1);
    },
  });
  try {
    await clock.finished;
  } finally {
    await consumer.disconnect();
  }
  return clock.rate();
}

/** Runs the benchmark; prints progress to stderr and the JSON result last on stdout. */
export async function main(args: string[]): Promise<void> {
  const a = parseArgs(args);
  const database = `onceflow_bench_${randomBytes(4).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: SERVER_URL, pool: { min: 0, max: 1 } });
  await admin.raw(`create database "${database}"`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${database}`;
  const knex = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: a.pool } });
  const kafka = createKafka({ brokers: defaultBrokers(), clientId: 'onceflow-bench', retries: 8 });
  const topic = `bench_consumer_${randomBytes(4).toString('hex')}`;
  const kafkaAdmin = kafka.admin();
  try {
    await migrate(knex);
    for (const t of ['bench_transactional', 'bench_batch', 'bench_bare']) {
      await knex.raw(
        `create table ${t} (id bigserial primary key, key text not null, seq integer not null, created_at timestamptz not null default now())`,
      );
    }
    await kafkaAdmin.connect();
    await kafkaAdmin.createTopics({ topics: [{ topic, numPartitions: a.partitions, replicationFactor: 1 }], waitForLeaders: true });
    log(`publishing ${a.messages} messages to ${topic} (${a.partitions} partitions, ${a.keys} keys)`);
    await publishAll(kafka, topic, a);
    const inbox = await runInbox(kafka, knex, topic, a, 'transactional');
    log(`(a) InboxConsumer, transactional: ${inbox} msgs/s`);
    const batch = await runInbox(kafka, knex, topic, a, 'batch');
    log(`(b) InboxConsumer, batch mode:    ${batch} msgs/s`);
    const bare = await runBare(kafka, knex, topic, a);
    log(`(c) bare kafkajs, no dedup:       ${bare} msgs/s`);
    const ratio = Math.round((inbox / bare) * 100) / 100;
    process.stdout.write(
      `${JSON.stringify({ bench: 'consumer', inbox_msgs_per_s: inbox, batch_msgs_per_s: batch, bare_msgs_per_s: bare, ratio })}\n`,
    );
  } finally {
    await kafkaAdmin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await kafkaAdmin.disconnect();
    await knex.destroy();
    await admin.raw(`drop database if exists "${database}" with (force)`);
    await admin.destroy();
  }
}
