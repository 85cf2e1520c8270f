import type { ConsumedMessage, InboxConsumer } from '@onceflow/consumer';
import { migrate } from '@onceflow/core';
import type { Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedTotal, createEffects, effects, orderViolation, publish, startConsumer, waitFor } from './support/consumer-helpers.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';

interface Payload {
  key: string;
  seq: number;
}

let db: TestDatabase;
let kafka: Kafka;

beforeAll(async () => {
  db = await createTestDatabase(16);
  await migrate(db.knex);
  kafka = testKafka('consumer-load-test');
});
afterAll(async () => {
  await db?.drop();
});

function records(topic: string, keys: number, perKey: number) {
  const out = [];
  for (let seq = 0; seq < perKey; seq++) {
    for (let k = 0; k < keys; k++) out.push({ key: `k${k}`, payload: { key: `k${k}`, seq }, idempotencyKey: `${topic}:k${k}:${seq}` });
  }
  return out;
}

const handler = (table: string, delayMs: number) => async (m: ConsumedMessage<Payload>, trx: Knex.Transaction) => {
  await trx(table).insert({ key: m.payload.key, seq: m.payload.seq, dedup_key: m.idempotencyKey });
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
};

describe('InboxConsumer under rebalances and duplicate storms', () => {
  it('a rebalance under load (a member joins, then leaves): each effect exactly once, per-key order kept', async () => {
    const topic = uniqueName('rebalance');
    const table = uniqueName('fx');
    const groupId = uniqueName('group');
    const consumerName = uniqueName('ledger');
    await createTopic(kafka, topic, 4);
    await createEffects(db.knex, table);
    const all = records(topic, 40, 50); // 2,000 messages
    await publish(kafka, topic, all);
    const options = { knex: db.knex, consumerName, handler: handler(table, 3), concurrency: 4, maxMessagesPerTransaction: 4 };
    let a: InboxConsumer<Payload> | undefined;
    let b: InboxConsumer<Payload> | undefined;
    try {
      a = await startConsumer<Payload>(kafka, groupId, [topic], options);
      await waitFor('A to handle some', () => (a?.stats().handled ?? 0) >= 300);
      b = await startConsumer<Payload>(kafka, groupId, [topic], options);
      await waitFor('B to take partitions and handle some', () => (b?.stats().handled ?? 0) >= 200);
      const handledBeforeLeave = (a.stats().handled ?? 0) + b.stats().handled;
      expect(handledBeforeLeave).toBeLessThan(all.length);
      await b.stop();
      await waitFor('every effect', async () => (await effects(db.knex, table)).length >= all.length);
      await waitFor('every offset committed', async () => (await committedTotal(kafka, groupId, topic)) === all.length, 30_000);
      const rows = await effects(db.knex, table);
      expect(rows).toHaveLength(all.length);
      expect(new Set(rows.map((r) => r.dedup_key)).size).toBe(all.length);
      expect(orderViolation(rows)).toBeNull();
      expect(a.stats().handled + b.stats().handled).toBe(all.length);
      expect(a.stats().deadLettered + b.stats().deadLettered).toBe(0);
    } finally {
      await Promise.all([a?.stop(), b?.stop()]);
    }
  });

  it('a duplicate storm (1,000 messages published 10 times, 3 members, parallel keys): 1,000 effects in per-key order', async () => {
    const topic = uniqueName('storm');
    const table = uniqueName('fx');
    const groupId = uniqueName('group');
    const consumerName = uniqueName('ledger');
    await createTopic(kafka, topic, 6);
    await createEffects(db.knex, table);
    const once = records(topic, 50, 20);
    for (let copy = 0; copy < 10; copy++) await publish(kafka, topic, once);
    const members: Array<InboxConsumer<Payload>> = [];
    try {
      members.push(
        ...(await Promise.all(
          [0, 1, 2].map(() =>
            startConsumer<Payload>(kafka, groupId, [topic], { knex: db.knex, consumerName, handler: handler(table, 0), concurrency: 8 }),
          ),
        )),
      );
      await waitFor('every offset committed', async () => (await committedTotal(kafka, groupId, topic)) === 10_000, 90_000);
      const rows = await effects(db.knex, table);
      expect(rows).toHaveLength(1_000);
      expect(new Set(rows.map((r) => r.dedup_key)).size).toBe(1_000);
      expect(orderViolation(rows)).toBeNull();
      const stats = members.map((m) => m.stats());
      expect(stats.reduce((n, s) => n + s.handled, 0)).toBe(1_000);
      expect(stats.reduce((n, s) => n + s.duplicates, 0)).toBeGreaterThanOrEqual(9_000);
      expect(stats.filter((s) => s.handled + s.duplicates > 0).length).toBeGreaterThanOrEqual(2);
    } finally {
      await Promise.all(members.map((m) => m.stop()));
    }
  });
});
