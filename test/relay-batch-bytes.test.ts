/**
 * Relay batches bounded in bytes against the real broker: a topic that accepts records of at
 * most 100 kB, a batch of rows that together are several times that, and one row larger than
 * the topic accepts. That row is dead at its first attempt with its reason; the rest publish.
 */
import type { OutgoingRecord, Publisher } from '@onceflow/core';
import { migrate, tablesForDialect } from '@onceflow/core';
import { KafkaPublisher } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import { listDead, Relay } from '@onceflow/relay';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { testKafka } from './support/kafka.ts';
import { readAll, waitFor } from './support/relay-helpers.ts';

let db: TestDatabase;
const kafka = testKafka('relay-batch-bytes');
const TOPIC_LIMIT = 100_000;
const FAST = { pollIntervalMs: 100, leaseMs: 1_500, minBackoffMs: 50, maxBackoffMs: 200, retentionMs: 0, maxAttempts: 5 } as const;

beforeAll(async () => {
  db = await createTestDatabase(10);
  await migrate(db.knex, { schema: db.schema });
});
afterAll(async () => {
  await db?.drop();
});

async function smallTopic(): Promise<string> {
  const topic = uniqueName('bytes');
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        { topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_LIMIT) }] },
      ],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  return topic;
}

/** Twelve rows of 30 kB on four keys (360 kB on one partition) and one row of 150 kB. */
async function enqueueRows(topic: string): Promise<{ big: string; others: string[] }> {
  const sent = await db.knex.transaction((trx) =>
    new OutboxWriter({ schema: db.schema }).enqueue(trx, [
      ...Array.from({ length: 6 }, (_, i) => ({ topic, key: `k${i % 4}`, payload: 'x'.repeat(30_000) })),
      { topic, key: 'big', payload: 'y'.repeat(150_000) },
      ...Array.from({ length: 6 }, (_, i) => ({ topic, key: `k${i % 4}`, payload: 'z'.repeat(30_000) })),
    ]),
  );
  const big = sent[6]?.id as string;
  return { big, others: sent.map((m) => m.id).filter((id) => id !== big) };
}

async function run(publisher: Publisher, topic: string, ids: { big: string; others: string[] }): Promise<void> {
  const relay = new Relay({ knex: db.knex, publisher, schema: db.schema, ...FAST });
  const outbox = tablesForDialect(db.dialect, db.schema).outbox;
  await relay.start();
  try {
    await waitFor('every row settled', async () => {
      const [row] = await db.rows<{ n: number | string }>(`select count(*) as n from ${outbox} where topic = ? and status <> 'pending'`, [
        topic,
      ]);
      return Number(row?.n) === 13;
    });
  } finally {
    await relay.stop();
  }
  const rows = await db.rows<{ id: string; status: string; attempts: number }>(
    `select id, status, attempts from ${outbox} where topic = ?`,
    [topic],
  );
  const byId = new Map(rows.map((r) => [r.id, { status: r.status, attempts: Number(r.attempts) }]));
  expect(byId.get(ids.big)).toEqual(expect.objectContaining({ status: 'dead', attempts: 1 }));
  for (const id of ids.others) expect(byId.get(id)?.status).toBe('published');
  const dead = await listDead(db.knex, { topic, schema: db.schema });
  expect(dead.map((d) => d.id)).toEqual([ids.big]);
  expect(JSON.stringify(dead[0]?.errors)).toMatch(/MESSAGE_TOO_LARGE/);
  const records = await readAll(kafka, topic);
  expect(records.map((r) => r.headers['onceflow-id']).sort()).toEqual([...ids.others].sort());
}

it('splits a batch below the topic limit it reads from the cluster; a row over it is dead at once, unsent', async () => {
  const topic = await smallTopic();
  const ids = await enqueueRows(topic);
  const publisher = new KafkaPublisher(kafka);
  expect((await publisher.describeTopics([topic]))[0]).toMatchObject({ topic, maxMessageBytes: TOPIC_LIMIT, replicationFactor: 1 });
  await run(publisher, topic, ids);
});

/** A publisher that cannot tell the topic's limit: the broker judges the records. */
class BlindPublisher implements Publisher {
  readonly #inner: KafkaPublisher;
  constructor(inner: KafkaPublisher) {
    this.#inner = inner;
  }
  connect(): Promise<void> {
    return this.#inner.connect();
  }
  publish(records: readonly OutgoingRecord[]): Promise<void> {
    return this.#inner.publish(records);
  }
  disconnect(): Promise<void> {
    return this.#inner.disconnect();
  }
}

it('a record the broker refuses as too large is dead at its first attempt; the rest of the batch publishes', async () => {
  const topic = await smallTopic();
  const ids = await enqueueRows(topic);
  // A send budget above the topic's limit: only the broker's answer stops the large sends.
  await run(new BlindPublisher(new KafkaPublisher(kafka)), topic, ids);
});
