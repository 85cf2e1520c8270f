import type { ConsumedMessage } from '@onceflow/consumer';
import { InboxConsumer } from '@onceflow/consumer';
import type { IncomingRecord, PartitionBatch, Subscriber } from '@onceflow/core';
import { HeaderNames, migrate } from '@onceflow/core';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEffects, effects, orderViolation } from './support/consumer-helpers.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';

interface Payload {
  key: string;
  seq: number;
}

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(12);
  await migrate(db.knex, { schema: db.schema });
});
afterAll(async () => {
  await db?.drop();
});

/** A Subscriber whose batches the test hands in by hand. */
class HandSubscriber implements Subscriber {
  onBatch: ((batch: PartitionBatch) => Promise<void>) | undefined;
  async start(onBatch: (batch: PartitionBatch) => Promise<void>): Promise<void> {
    this.onBatch = onBatch;
  }
  async stop(): Promise<void> {}
}

function records(topic: string, count: number, keys: number): IncomingRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    topic,
    partition: 0,
    offset: String(1_000 + i),
    key: `k${i % keys}`,
    value: Buffer.from(JSON.stringify({ key: `k${i % keys}`, seq: i })),
    headers: { [HeaderNames.id]: `${topic}-${i}`, [HeaderNames.idempotencyKey]: `${topic}:${i}` },
    timestamp: '0',
  }));
}

/** A batch that checks, at every commit, that no unfinished message lies below the committed offset. */
function watchedBatch(
  list: IncomingRecord[],
  finished: Set<string>,
  options: { active?: () => boolean; heartbeat?: () => Promise<void> } = {},
) {
  const log = { commits: [] as string[], violations: [] as string[], inactiveCommits: 0, resolved: [] as string[] };
  const isActive = options.active ?? (() => true);
  const batch: PartitionBatch = {
    topic: list[0]?.topic as string,
    partition: 0,
    records: list,
    resolve: (offset) => log.resolved.push(offset),
    commit: async (next) => {
      if (!isActive()) {
        log.inactiveCommits++;
        return false;
      }
      for (const r of list)
        if (BigInt(r.offset) < BigInt(next) && !finished.has(r.offset)) log.violations.push(`${next} passes ${r.offset}`);
      log.commits.push(next);
      return true;
    },
    heartbeat: options.heartbeat ?? (async () => undefined),
    isActive,
  };
  return { batch, log };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function consumerFor(
  table: string,
  extra: Record<string, unknown>,
  handler?: (m: ConsumedMessage<Payload>, trx: Knex.Transaction) => Promise<void>,
) {
  const subscriber = new HandSubscriber();
  const consumer = new InboxConsumer<Payload>({
    knex: db.knex,
    schema: db.schema,
    subscriber,
    consumerName: uniqueName('c'),
    retryMinDelayMs: 20,
    retryMaxDelayMs: 50,
    handler:
      handler ??
      (async (m, trx) => {
        await pause(Math.random() * 4);
        await trx(table).insert({ key: m.payload.key, seq: m.payload.seq, dedup_key: m.idempotencyKey });
      }),
    ...extra,
  });
  const finished = new Set<string>();
  for (const event of ['inbox:handled', 'inbox:duplicate', 'inbox:dead'] as const)
    consumer.events.on(event, ({ message }) => finished.add(message.offset));
  await consumer.start();
  return { consumer, subscriber, finished };
}

describe('partition watermark with parallel keys', () => {
  it('commits a contiguous watermark that never passes an unfinished message, in few commits', async () => {
    const table = uniqueName('fx');
    await createEffects(db.knex, table);
    const { consumer, subscriber, finished } = await consumerFor(table, { concurrency: 4, maxMessagesPerTransaction: 4 });
    try {
      const list = records(uniqueName('t'), 200, 10);
      const { batch, log } = watchedBatch(list, finished);
      await subscriber.onBatch?.(batch);
      expect(log.violations).toEqual([]);
      expect(log.commits.at(-1)).toBe('1200');
      expect(log.commits.map(Number)).toEqual([...log.commits.map(Number)].sort((a, b) => a - b));
      expect(log.commits.length).toBeGreaterThan(1);
      expect(log.commits.length).toBeLessThan(200);
      const rows = await effects(db.knex, table);
      expect(rows).toHaveLength(200);
      expect(orderViolation(rows)).toBeNull();
      expect(consumer.stats()).toMatchObject({ handled: 200, abandoned: 0 });
    } finally {
      await consumer.stop();
    }
  });

  it('on revocation takes no new work, never commits for the lost partition, and leaves the rest unresolved', async () => {
    const table = uniqueName('fx');
    await createEffects(db.knex, table);
    const { consumer, subscriber, finished } = await consumerFor(table, {
      concurrency: 2,
      maxMessagesPerTransaction: 2,
      heartbeatIntervalMs: 10,
    });
    try {
      const list = records(uniqueName('t'), 200, 4);
      let active = true;
      const { batch, log } = watchedBatch(list, finished, { active: () => active });
      consumer.events.on('inbox:handled', () => {
        if (consumer.stats().handled >= 40) active = false;
      });
      await subscriber.onBatch?.(batch);
      const handled = consumer.stats().handled;
      expect(handled).toBeGreaterThanOrEqual(40);
      expect(handled).toBeLessThan(200);
      expect(consumer.stats().abandoned).toBe(200 - handled);
      expect(log.inactiveCommits).toBe(0);
      expect(log.violations).toEqual([]);
      const lastResolved = BigInt(log.resolved.at(-1) ?? '0');
      expect(lastResolved).toBeLessThan(1_000n + BigInt(handled));
    } finally {
      await consumer.stop();
    }
  });

  it('stops taking work and committing once a heartbeat fails (a rebalance started)', async () => {
    const table = uniqueName('fx');
    await createEffects(db.knex, table);
    const { consumer, subscriber, finished } = await consumerFor(table, {
      concurrency: 2,
      maxMessagesPerTransaction: 1,
      heartbeatIntervalMs: 20,
    });
    try {
      const list = records(uniqueName('t'), 400, 4);
      let beats = 0;
      let commitsAtFailure = -1;
      const ref: { log?: { commits: string[] } } = {};
      const { batch, log } = watchedBatch(list, finished, {
        heartbeat: async () => {
          beats++;
          if (beats >= 3) {
            if (commitsAtFailure < 0) commitsAtFailure = ref.log?.commits.length ?? 0;
            throw new Error('REBALANCE_IN_PROGRESS');
          }
        },
      });
      ref.log = log;
      await subscriber.onBatch?.(batch);
      expect(consumer.stats().handled).toBeLessThan(400);
      expect(commitsAtFailure).toBeGreaterThanOrEqual(0);
      expect(log.commits.length).toBe(commitsAtFailure);
      expect(log.violations).toEqual([]);
    } finally {
      await consumer.stop();
    }
  });

  /**
   * Runs `count` messages over 4 keys through a consumer whose handler fails the message with
   * `seq` `flakySeq` twice, then handles it; checks what holds in every such run (two failures,
   * everything handled, per-key order, the watermark) and answers the handled messages as
   * `key:seq`, in the order they were handled.
   */
  async function runFlaky(flakySeq: number, count: number, options: Record<string, unknown>): Promise<string[]> {
    const table = uniqueName('fx');
    await createEffects(db.knex, table);
    const state = { order: [] as string[], failures: 0 };
    const { consumer, subscriber, finished } = await consumerFor(table, { maxAttempts: 5, ...options }, async (m, trx) => {
      if (m.payload.seq === flakySeq && state.failures < 2) {
        state.failures++;
        throw new Error('flaky downstream');
      }
      await trx(table).insert({ key: m.payload.key, seq: m.payload.seq, dedup_key: m.idempotencyKey });
      state.order.push(`${m.payload.key}:${m.payload.seq}`);
    });
    try {
      const { batch, log } = watchedBatch(records(uniqueName('t'), count, 4), finished);
      await subscriber.onBatch?.(batch);
      expect(state.failures).toBe(2);
      expect(consumer.stats()).toMatchObject({ handled: count, retried: 2, deadLettered: 0 });
      expect(orderViolation(await effects(db.knex, table))).toBeNull();
      expect(log.violations).toEqual([]);
      expect(log.commits.at(-1)).toBe(String(1_000 + count));
      return state.order;
    } finally {
      await consumer.stop();
    }
  }

  it('a failing message holds back only its own key; the watermark waits for it', async () => {
    // seq 0 is key k0's first message.
    const order = await runFlaky(0, 40, { concurrency: 4, retryMinDelayMs: 100, retryMaxDelayMs: 100 });
    // Other keys ran to their end while k0 waited; k0 kept its order.
    expect(order.indexOf('k0:0')).toBeGreaterThan(order.indexOf('k1:37'));
  });

  it('a message waiting for its retry lets the other keys of its lane go on, and its own key waits', async () => {
    // One lane for the whole batch: without splitting it, every key would wait for k0's retries.
    // seq 4 is key k0's second message.
    const order = await runFlaky(4, 24, { concurrency: 1, retryMinDelayMs: 150, retryMaxDelayMs: 150 });
    // k0's first message went before the failure; every other key finished while k0:4 waited.
    const waited = order.indexOf('k0:4');
    expect(order.indexOf('k0:0')).toBeLessThan(waited);
    for (const other of ['k1:21', 'k2:22', 'k3:23']) expect(order.indexOf(other)).toBeLessThan(waited);
    expect(order.slice(waited)).toEqual(['k0:4', 'k0:8', 'k0:12', 'k0:16', 'k0:20']);
  });
});
