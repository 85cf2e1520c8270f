// `pnpm bench consumer [--db postgres|mariadb] [--messages N] [--partitions P]`: consumes N messages whose handler
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
import type { TestDatabase } from '../test/support/database.ts';
import { benchDatabase, takeDbArg } from './database.ts';

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

async function runInbox(kafka: Kafka, db: TestDatabase, topic: string, a: Args, mode: 'transactional' | 'batch'): Promise<number> {
  const { knex } = db;
  const table = `bench_${mode}`;
  const clock = new Clock(a.messages);
  const subscriber = new KafkaSubscriber(kafka, {
    groupId: `bench_${mode}_${topic}`,
    topics: [topic],
    partitionsConsumedConcurrently: a.partitions,
  });
  const common = { knex, schema: db.schema, subscriber, consumerName: `bench_${mode}_${topic}` };
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
  const rows = Number((await db.rows<{ n: unknown }>(`select count(*) n from ${table}`))[0]?.n);
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
  const { db: dbKind, rest } = takeDbArg(args);
  const a = parseArgs(rest);
  const db = await benchDatabase(dbKind, a.pool);
  const { knex } = db;
  const kafka = createKafka({ brokers: defaultBrokers(), clientId: 'onceflow-bench', retries: 8 });
  const topic = `bench_consumer_${randomBytes(4).toString('hex')}`;
  const kafkaAdmin = kafka.admin();
  try {
    await migrate(knex, { schema: db.schema });
    for (const t of ['bench_transactional', 'bench_batch', 'bench_bare']) {
      await knex.raw(
        db.dialect === 'mysql'
          ? `create table ${t} (id bigint not null auto_increment primary key, \`key\` varchar(64) not null, seq integer not null, created_at datetime(6) not null default current_timestamp(6))`
          : `create table ${t} (id bigserial primary key, key text not null, seq integer not null, created_at timestamptz not null default now())`,
      );
    }
    await kafkaAdmin.connect();
    await kafkaAdmin.createTopics({ topics: [{ topic, numPartitions: a.partitions, replicationFactor: 1 }], waitForLeaders: true });
    log(`publishing ${a.messages} messages to ${topic} (${a.partitions} partitions, ${a.keys} keys; ${dbKind})`);
    await publishAll(kafka, topic, a);
    const inbox = await runInbox(kafka, db, topic, a, 'transactional');
    log(`(a) InboxConsumer, transactional: ${inbox} msgs/s`);
    const batch = await runInbox(kafka, db, topic, a, 'batch');
    log(`(b) InboxConsumer, batch mode:    ${batch} msgs/s`);
    const bare = await runBare(kafka, knex, topic, a);
    log(`(c) bare kafkajs, no dedup:       ${bare} msgs/s`);
    const ratio = Math.round((inbox / bare) * 100) / 100;
    process.stdout.write(
      `${JSON.stringify({ bench: 'consumer', db: dbKind, inbox_msgs_per_s: inbox, batch_msgs_per_s: batch, bare_msgs_per_s: bare, ratio })}\n`,
    );
  } finally {
    await kafkaAdmin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await kafkaAdmin.disconnect();
    await db.drop();
  }
}
