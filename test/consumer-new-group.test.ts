import type { ConsumedMessage } from '@onceflow/consumer';
import { InboxConsumer, pruneInbox } from '@onceflow/consumer';
import { ErrorCodes, migrate, StartPositionError } from '@onceflow/core';
import type { KafkaSubscriberOptions } from '@onceflow/kafka';
import { KafkaSubscriber } from '@onceflow/kafka';
import type { Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedTotal, createEffects, effects, fastGroup, publish, waitFor } from './support/consumer-helpers.ts';
import { daysAgo, onceflowTable } from './support/consumer-matrix.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';

interface Payload {
  key: string;
  seq: number;
  batch: string;
}

let db: TestDatabase;
let kafka: Kafka;

beforeAll(async () => {
  db = await createTestDatabase(12);
  await migrate(db.knex, { schema: db.schema });
  kafka = testKafka('consumer-new-group-test');
});
afterAll(async () => {
  await db?.drop();
});

/** One topic, one effects table and one inbox consumer name, as a service would have. */
interface Service {
  topic: string;
  table: string;
  consumerName: string;
}

async function newService(): Promise<Service> {
  const service = { topic: uniqueName('orders'), table: uniqueName('fx'), consumerName: uniqueName('rewards') };
  await createTopic(kafka, service.topic, 2);
  await createEffects(db.knex, service.table);
  return service;
}

/** Publishes `count` records of one batch, every one a distinct message. */
function send(service: Service, batch: string, count: number): Promise<void> {
  return publish(
    kafka,
    service.topic,
    Array.from({ length: count }, (_, seq) => ({
      key: `k${seq % 4}`,
      payload: { key: `k${seq % 4}`, seq, batch },
      idempotencyKey: `${batch}:${seq}`,
    })),
  );
}

/** An inbox consumer of `service` in `groupId`, not started; each effect row names its batch. */
function consumerOf(service: Service, groupId: string, start: Pick<KafkaSubscriberOptions, 'startFrom' | 'fromBeginning'> = {}) {
  const subscriber = new KafkaSubscriber(kafka, { groupId, topics: [service.topic], ...fastGroup, ...start });
  return new InboxConsumer<Payload>({
    knex: db.knex,
    schema: db.schema,
    subscriber,
    consumerName: service.consumerName,
    heartbeatIntervalMs: 250,
    handler: async (m: ConsumedMessage<Payload>, trx: Knex.Transaction) => {
      await trx(service.table).insert({ key: m.payload.key, seq: m.payload.seq, dedup_key: m.idempotencyKey, consumer: m.payload.batch });
    },
  });
}

/** Runs a first consumer group until it has handled and committed `count` records. */
async function runFirstGroup(service: Service, count: number): Promise<string> {
  const groupId = uniqueName('group_v1');
  const consumer = consumerOf(service, groupId);
  await consumer.start();
  try {
    await waitFor(`${count} handled`, () => consumer.stats().handled === count);
    await waitFor('offsets committed', async () => (await committedTotal(kafka, groupId, service.topic)) === count);
  } finally {
    await consumer.stop();
  }
  return groupId;
}

/** Effect rows per batch. */
async function effectsByBatch(service: Service): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const row of await effects(db.knex, service.table)) counts[row.consumer ?? ''] = (counts[row.consumer ?? ''] ?? 0) + 1;
  return counts;
}

/** Deletes an empty consumer group with its committed offsets, as Kafka's offset expiry would. */
async function deleteGroup(groupId: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteGroups([groupId]);
  } finally {
    await admin.disconnect();
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 1_500));

describe('a new consumer group on an existing consumer name', () => {
  it("a consumer name's first run starts from the earliest offset and handles everything", async () => {
    const service = await newService();
    await send(service, 'old', 20);
    const groupId = await runFirstGroup(service, 20);
    expect(await effectsByBatch(service)).toEqual({ old: 20 });
    expect(await committedTotal(kafka, groupId, service.topic)).toBe(20);
  });

  it('with inbox rows and no start chosen: start() refuses, naming the choices; nothing is handled or committed', async () => {
    const service = await newService();
    await send(service, 'old', 20);
    await runFirstGroup(service, 20);
    await send(service, 'new', 5);
    const groupId = uniqueName('group_v2');
    const consumer = consumerOf(service, groupId);
    try {
      const error = await consumer.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StartPositionError);
      const refusal = error as StartPositionError;
      expect(refusal).toMatchObject({ code: ErrorCodes.startPosition, retriable: false, consumerName: service.consumerName, groupId });
      for (const part of [service.consumerName, groupId, service.topic, 'inbox rows', "'earliest'", "'latest'", 'start time']) {
        expect(refusal.message).toContain(part);
      }
      await settle();
      expect(consumer.stats().handled).toBe(0);
    } finally {
      await consumer.stop();
    }
    expect(await effectsByBatch(service)).toEqual({ old: 20 });
    expect(await committedTotal(kafka, groupId, service.topic)).toBe(0);
  });

  it('whose inbox rows retention removed: start() still refuses', async () => {
    const service = await newService();
    await send(service, 'old', 8);
    await runFirstGroup(service, 8);
    await db.knex.raw(`update ${onceflowTable(db, 'inbox')} set processed_at = ${daysAgo(db, 3)} where consumer = ?`, [
      service.consumerName,
    ]);
    const day = 86_400_000;
    const pruned = await pruneInbox(db.knex, {
      schema: db.schema,
      consumerName: service.consumerName,
      retentionMs: 2 * day,
      redeliveryHorizonMs: day,
    });
    expect(pruned).toBe(8);
    const consumer = consumerOf(service, uniqueName('group_v2'));
    try {
      await expect(consumer.start()).rejects.toThrow(/history for this consumer name \(inbox rows removed by retention\)/);
    } finally {
      await consumer.stop();
    }
    // Without the refusal all eight would have run again: their inbox rows are gone.
    expect(await effectsByBatch(service)).toEqual({ old: 8 });
  });

  it('the same group, when Kafka no longer has offsets it had committed (expired): start() refuses', async () => {
    const service = await newService();
    await send(service, 'old', 6);
    const groupId = await runFirstGroup(service, 6);
    await deleteGroup(groupId);
    const consumer = consumerOf(service, groupId);
    try {
      await expect(consumer.start()).rejects.toThrow(StartPositionError);
    } finally {
      await consumer.stop();
    }
    expect(await effectsByBatch(service)).toEqual({ old: 6 });
  });

  it('the same group, whose first run ended before its first offset commit: starts again from the earliest offset', async () => {
    const service = await newService();
    await send(service, 'old', 6);
    const groupId = await runFirstGroup(service, 6);
    // The state a first run leaves when it dies after its transactions and before any offset
    // commit: inbox rows, no offsets, and the note of a group that never committed.
    await deleteGroup(groupId);
    await db.knex.raw(`update ${onceflowTable(db, 'meta')} set value = ? where name = ?`, [
      JSON.stringify({ group: groupId, committed: false }),
      `consumer_group:${service.consumerName}`,
    ]);
    await send(service, 'new', 4);
    const consumer = consumerOf(service, groupId);
    await consumer.start();
    try {
      await waitFor('10 records done', () => consumer.stats().handled + consumer.stats().duplicates === 10);
      expect(consumer.stats()).toMatchObject({ handled: 4, duplicates: 6 });
    } finally {
      await consumer.stop();
    }
    expect(await effectsByBatch(service)).toEqual({ old: 6, new: 4 });
  });

  it("startFrom 'latest': only records written after start() are handled", async () => {
    const service = await newService();
    await send(service, 'old', 20);
    await runFirstGroup(service, 20);
    await send(service, 'unseen', 10);
    const groupId = uniqueName('group_v2');
    const consumer = consumerOf(service, groupId, { startFrom: 'latest' });
    await consumer.start();
    try {
      await send(service, 'after', 10);
      await waitFor('10 handled', () => consumer.stats().handled === 10);
      await waitFor('offsets committed', async () => (await committedTotal(kafka, groupId, service.topic)) === 40);
      await settle();
      expect(consumer.stats()).toMatchObject({ handled: 10, duplicates: 0 });
    } finally {
      await consumer.stop();
    }
    expect(await effectsByBatch(service)).toEqual({ old: 20, after: 10 });
  });

  it('a start time between two batches: only records at or after it are handled', async () => {
    const service = await newService();
    await send(service, 'old', 20);
    await runFirstGroup(service, 20);
    await send(service, 'before', 10);
    await settle();
    const startTime = new Date();
    await settle();
    await send(service, 'later', 10);
    const groupId = uniqueName('group_v2');
    const consumer = consumerOf(service, groupId, { startFrom: startTime });
    await consumer.start();
    try {
      await waitFor('10 handled', () => consumer.stats().handled === 10);
      await waitFor('offsets committed', async () => (await committedTotal(kafka, groupId, service.topic)) === 40);
      await settle();
      expect(consumer.stats()).toMatchObject({ handled: 10, duplicates: 0 });
    } finally {
      await consumer.stop();
    }
    expect(await effectsByBatch(service)).toEqual({ old: 20, later: 10 });
  });

  it("explicit 'earliest': the group re-reads everything and the inbox skips what it already applied", async () => {
    const service = await newService();
    await send(service, 'old', 20);
    await runFirstGroup(service, 20);
    await send(service, 'new', 5);
    const groupId = uniqueName('group_v2');
    const consumer = consumerOf(service, groupId, { startFrom: 'earliest' });
    await consumer.start();
    try {
      await waitFor('25 records done', () => consumer.stats().handled + consumer.stats().duplicates === 25);
      await waitFor('offsets committed', async () => (await committedTotal(kafka, groupId, service.topic)) === 25);
      expect(consumer.stats()).toMatchObject({ handled: 5, duplicates: 20 });
    } finally {
      await consumer.stop();
    }
    expect(await effectsByBatch(service)).toEqual({ old: 20, new: 5 });
    const rows = await effects(db.knex, service.table);
    expect(new Set(rows.map((r) => r.dedup_key)).size).toBe(25);
  });

  it('fromBeginning: true, the older option, counts as a choice too', async () => {
    const service = await newService();
    await send(service, 'old', 6);
    await runFirstGroup(service, 6);
    const consumer = consumerOf(service, uniqueName('group_v2'), { fromBeginning: true });
    await consumer.start();
    try {
      await waitFor('6 duplicates skipped', () => consumer.stats().duplicates === 6);
      expect(consumer.stats().handled).toBe(0);
    } finally {
      await consumer.stop();
    }
  });
});
