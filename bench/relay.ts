// `pnpm bench relay [--db postgres|mariadb] [--messages N] [--keys K] [--batch B] [--concurrency C] [--partitions P] [--delete 1] [--thread 0]`:
// publishes N outbox rows (payload ~200 bytes, K keys) with the Relay to the real broker, and
// in the same run the same records with a bare kafkajs producer using the same batch size and
// settings (idempotent, acks -1, one request in flight). The kafkajs rate is the better of
// sending its batches one after the other and C at a time. Both rates are steady-state: each
// run's first tenth of the messages is its warm-up (connections, leases, the JIT of a fresh
// thread) and untimed; the clock runs from there to the last acknowledgement (the relay's
// includes claiming and marking rows in the database). The relay
// publishes through ThreadedKafkaPublisher, as `onceflow relay` does (`--thread 0`: KafkaPublisher
// on the relay's own thread).
// Last line: JSON.
import { randomBytes } from 'node:crypto';
import { HeaderNames, migrate } from '@onceflow/core';
import type { KafkaConnectionOptions } from '@onceflow/kafka';
import { createKafka, defaultBrokers, KafkaPublisher, ThreadedKafkaPublisher } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import { Relay } from '@onceflow/relay';
import type { Kafka, Message } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import type { TestDatabase } from '../test/support/database.ts';
import type { BenchDb } from './database.ts';
import { analyze, benchDatabase, takeDbArg } from './database.ts';

interface Args {
  messages: number;
  keys: number;
  batch: number;
  concurrency: number;
  partitions: number;
  /** 1: the relay deletes rows once published instead of marking them (`deletePublished`). */
  delete: number;
  /** 1: the relay's producer runs in a worker thread (ThreadedKafkaPublisher), 0: on its own thread. */
  thread: number;
}

function parseArgs(args: string[]): Args {
  const out: Args = { messages: 200_000, keys: 1_000, batch: 1_000, concurrency: 4, partitions: 8, delete: 0, thread: 1 };
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]?.replace(/^--/, '') as keyof Args;
    const value = Number(args[i + 1]);
    if (!(name in out) || !Number.isInteger(value) || value < (name === 'delete' || name === 'thread' ? 0 : 1)) {
      throw new Error(
        `usage: pnpm bench relay [--messages N] [--keys K] [--batch B] [--concurrency C] [--partitions P] [--delete 0|1] [--thread 0|1]; got ${args.join(' ')}`,
      );
    }
    out[name] = value;
  }
  return out;
}

/** One connection setting for the relay's publisher (in its thread or not) and the baseline. */
const KAFKA_CONNECTION: KafkaConnectionOptions = { brokers: defaultBrokers(), clientId: 'onceflow-bench', retries: 5 };

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function payload(i: number, key: string): Record<string, unknown> {
  // About 200 bytes of JSON.
  return { order: key, seq: i, amount: (i % 997) * 1.25, currency: 'EUR', note: 'x'.repeat(120) };
}

async function createTopics(kafka: Kafka, topics: string[], partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

async function fillOutbox(db: TestDatabase, topic: string, a: Args): Promise<void> {
  const { knex } = db;
  const writer = new OutboxWriter({ schema: db.schema });
  const chunk = 5_000;
  for (let start = 0; start < a.messages; start += chunk) {
    await knex.transaction((trx) =>
      writer.enqueue(
        trx,
        Array.from({ length: Math.min(chunk, a.messages - start) }, (_, j) => {
          const i = start + j;
          const key = `order-${i % a.keys}`;
          return { topic, key, payload: payload(i, key), type: 'order.paid' };
        }),
      ),
    );
  }
  await analyze(db, `${db.schema}.outbox`);
}

async function runRelay(db: TestDatabase, kafka: Kafka, a: Args): Promise<number> {
  const relay = new Relay({
    knex: db.knex,
    schema: db.schema,
    publisher: a.thread === 1 ? new ThreadedKafkaPublisher({ connection: KAFKA_CONNECTION }) : new KafkaPublisher(kafka),
    batchSize: a.batch,
    concurrency: a.concurrency,
    pollIntervalMs: 50,
    retentionMs: 0,
    deletePublished: a.delete === 1,
    relayId: 'bench-relay',
  });
  const clock = new SteadyClock(a.messages);
  let resolve: () => void = () => undefined;
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  relay.events.on('relay:batch:published', ({ count }) => {
    if (clock.add(count)) resolve();
  });
  relay.events.on('relay:error', ({ error, during }) => log(`relay error during ${during}: ${String(error)}`));
  const started = performance.now();
  await relay.start();
  await done;
  const total = (performance.now() - started) / 1_000;
  const stats = relay.stats();
  await relay.stop();
  log(`relay: ${a.messages} messages in ${total.toFixed(2)} s from start, ${stats.batches} batches; ${clock.describe()}`);
  return clock.rate();
}

/**
 * Times a run's steady state: from the acknowledgement that passes the first tenth of `total`
 * messages (the warm-up) to the last one.
 */
class SteadyClock {
  readonly #total: number;
  #count = 0;
  #warmCount = 0;
  #warmAt = 0;
  #endAt = 0;

  constructor(total: number) {
    this.#total = total;
  }

  /** Counts `n` acknowledged messages; true once all are. */
  add(n: number): boolean {
    this.#count += n;
    const now = performance.now();
    if (this.#warmAt === 0 && this.#count >= this.#total / 10) {
      this.#warmAt = now;
      this.#warmCount = this.#count;
    }
    if (this.#count >= this.#total && this.#endAt === 0) this.#endAt = now;
    return this.#count >= this.#total;
  }

  rate(): number {
    return (this.#total - this.#warmCount) / ((this.#endAt - this.#warmAt) / 1_000);
  }

  describe(): string {
    return `steady state ${this.#total - this.#warmCount} messages in ${((this.#endAt - this.#warmAt) / 1_000).toFixed(2)} s`;
  }
}

/** The records the relay sent, rebuilt from the outbox rows so both runs publish the same bytes. */
async function recordsOf(db: TestDatabase): Promise<Message[]> {
  const key = db.dialect === 'mysql' ? '`key`' : 'key';
  const rows = await db.rows(
    `select id, idempotency_key, type, ${key}, payload, headers, created_at from ${db.schema}.outbox order by seq`,
  );
  // MySQL hands back keys as bytes, headers as JSON text and DATETIME without a zone (UTC).
  const text = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
  return rows.map((r) => ({
    key: text(r.key),
    value: r.payload as Buffer,
    headers: {
      ...((typeof r.headers === 'string' ? JSON.parse(r.headers) : r.headers) as Record<string, string>),
      [HeaderNames.id]: r.id as string,
      [HeaderNames.idempotencyKey]: text(r.idempotency_key),
      [HeaderNames.type]: r.type as string,
      [HeaderNames.createdAt]: r.created_at instanceof Date ? r.created_at.toISOString() : `${String(r.created_at).replace(' ', 'T')}Z`,
    },
  }));
}

async function runKafkajs(kafka: Kafka, topic: string, records: Message[], a: Args, lanes: number): Promise<number> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000, factor: 0.2, multiplier: 2 },
  });
  await producer.connect();
  try {
    const batches: Message[][] = [];
    for (let i = 0; i < records.length; i += a.batch) batches.push(records.slice(i, i + a.batch));
    const clock = new SteadyClock(records.length);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        for (let batch = batches.shift(); batch !== undefined; batch = batches.shift()) {
          await producer.sendBatch({ topicMessages: [{ topic, messages: batch }], acks: -1, timeout: 30_000 });
          clock.add(batch.length);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1_000;
    log(`kafkajs (${lanes} at a time): ${records.length} messages in ${seconds.toFixed(2)} s from start; ${clock.describe()}`);
    return clock.rate();
  } finally {
    await producer.disconnect();
  }
}

/** Runs the benchmark; prints progress on stderr and the JSON result as the last stdout line. */
export async function main(args: string[]): Promise<void> {
  const { db: dbKind, rest } = takeDbArg(args);
  const a = parseArgs(rest);
  const db = await benchDatabase(dbKind, a.concurrency + 6);
  const name = `onceflow_bench_${randomBytes(4).toString('hex')}`;
  const kafka = createKafka(KAFKA_CONNECTION);
  const relayTopic = `${name}_relay`;
  const kafkajsTopic = `${name}_kafkajs`;
  try {
    await migrate(db.knex, { schema: db.schema });
    await createTopics(kafka, [relayTopic, kafkajsTopic], a.partitions);
    log(`filling the ${dbKind} outbox with ${a.messages} messages over ${a.keys} keys...`);
    await fillOutbox(db, relayTopic, a);
    const records = await recordsOf(db);
    const relayRate = await runRelay(db, kafka, a);
    const sequential = await runKafkajs(kafka, kafkajsTopic, records, a, 1);
    const parallel = await runKafkajs(kafka, kafkajsTopic, records, a, a.concurrency);
    const kafkajsRate = Math.max(sequential, parallel);
    const round = (n: number) => Math.round(n);
    process.stdout.write(
      `${JSON.stringify({
        bench: 'relay',
        db: dbKind satisfies BenchDb,
        relay_msgs_per_s: round(relayRate),
        kafkajs_msgs_per_s: round(kafkajsRate),
        ratio: Math.round((relayRate / kafkajsRate) * 100) / 100,
        published_rows: a.delete === 1 ? 'deleted' : 'marked',
        publisher: a.thread === 1 ? 'thread' : 'main',
      })}\n`,
    );
  } finally {
    await db.drop();
    const kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    await kafkaAdmin.deleteTopics({ topics: [relayTopic, kafkajsTopic] }).catch(() => undefined);
    await kafkaAdmin.disconnect();
  }
}
