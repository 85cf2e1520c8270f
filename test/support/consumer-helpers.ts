import type { InboxConsumerOptions } from '@onceflow/consumer';
import { InboxConsumer } from '@onceflow/consumer';
import { HeaderNames } from '@onceflow/core';
import { KafkaSubscriber } from '@onceflow/kafka';
import type { Kafka } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import type { Knex } from 'knex';

/** A record to publish as Onceflow's relay would (headers carry id and idempotency key). */
export interface TestRecord {
  key: string;
  payload: unknown;
  id?: string;
  idempotencyKey?: string;
  /** Leave the Onceflow headers out (a record from another system). */
  bare?: boolean;
  /** Send to this partition instead of the key's. */
  partition?: number;
  /** The message type (`onceflow-type` header); none when left out. */
  type?: string;
}

/** Publishes records in order with an idempotent kafkajs producer. */
export async function publish(kafka: Kafka, topic: string, records: readonly TestRecord[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 2_000) {
      await producer.send({
        topic,
        acks: -1,
        messages: records.slice(i, i + 2_000).map((r) => ({
          ...(r.partition === undefined ? {} : { partition: r.partition }),
          key: r.key,
          value: JSON.stringify(r.payload),
          headers: r.bare
            ? {}
            : {
                [HeaderNames.id]: r.id ?? `id-${r.idempotencyKey ?? r.key}`,
                [HeaderNames.idempotencyKey]: r.idempotencyKey ?? r.id ?? r.key,
                ...(r.type === undefined ? {} : { [HeaderNames.type]: r.type }),
              },
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Short group timings so rebalances in tests take seconds, not minutes. */
export const fastGroup = { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 10_000, maxWaitTimeMs: 50 } as const;

/** Creates and starts an InboxConsumer on a KafkaSubscriber with test timings. */
export async function startConsumer<P = unknown>(
  kafka: Kafka,
  groupId: string,
  topics: string[],
  options: Omit<InboxConsumerOptions<P>, 'subscriber'>,
): Promise<InboxConsumer<P>> {
  const subscriber = new KafkaSubscriber(kafka, { groupId, topics, ...fastGroup, partitionsConsumedConcurrently: 4 });
  const consumer = new InboxConsumer<P>({ heartbeatIntervalMs: 250, retryMinDelayMs: 20, retryMaxDelayMs: 200, ...options, subscriber });
  await consumer.start();
  return consumer;
}

export { waitFor } from './wait.ts';

/** Creates the business table handlers write to: one row per effect, no unique constraint, so doubles show. */
export async function createEffects(knex: Knex, table = 'effects'): Promise<void> {
  // The schema builder, so the same table exists on PostgreSQL and MariaDB.
  // Two processes may create it at once: the loser finds the table there.
  if (await knex.schema.hasTable(table)) return;
  try {
    await knex.schema.createTable(table, (t) => {
      t.bigIncrements('n');
      t.text('key').notNullable();
      t.integer('seq').notNullable();
      t.text('dedup_key').notNullable();
      t.text('consumer');
    });
  } catch (error) {
    if (!(await knex.schema.hasTable(table))) throw error;
  }
}

/** Effect rows in insertion order. */
export async function effects(
  knex: Knex,
  table = 'effects',
): Promise<Array<{ key: string; seq: number; dedup_key: string; consumer: string | null }>> {
  return knex(table).select('key', 'seq', 'dedup_key', 'consumer').orderBy('n');
}

/** Checks each key's effects appear in increasing `seq` order; returns the first violation or null. */
export function orderViolation(rows: ReadonlyArray<{ key: string; seq: number }>): string | null {
  const last = new Map<string, number>();
  for (const r of rows) {
    const prev = last.get(r.key);
    if (prev !== undefined && r.seq <= prev) return `key ${r.key}: seq ${r.seq} after ${prev}`;
    last.set(r.key, r.seq);
  }
  return null;
}

/** The group's committed offsets summed over partitions (the next offsets to read). */
export async function committedTotal(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (entry?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}
