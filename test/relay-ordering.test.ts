/**
 * Per-key order with several relays and overlapping producer transactions, on the test matrix's
 * database: producers enqueue messages of a few keys in transactions that stay open a while
 * after enqueueing (so a second producer of the key waits on the first's key lock: the
 * advisory lock on PostgreSQL, the `key_locks` row on MySQL), some transactions roll back, and
 * three relays (one replaced halfway) publish meanwhile. For each key the messages must reach
 * Kafka in the order their transactions committed, every committed message exactly once and no
 * rolled-back one. On MySQL the relays prune published rows and the key-lock rows all along,
 * so producers also meet key locks deleted under them.
 */
import { HeaderNames, migrate, tablesForDialect } from '@onceflow/core';
import { KafkaPublisher } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import type { RelayOptions } from '@onceflow/relay';
import { Relay } from '@onceflow/relay';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';
import { readAll, waitFor } from './support/relay-helpers.ts';
import { countRows } from './support/relay-sql.ts';

let db: TestDatabase;
const kafka = testKafka('relay-ordering');

beforeAll(async () => {
  db = await createTestDatabase(40);
  await migrate(db.knex, { schema: db.schema });
});
afterAll(async () => {
  await db?.drop();
});

const KEYS = ['a', 'b', 'c', 'd', 'e'];
const PRODUCERS = 6;
const TRANSACTIONS = 30;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

it('publishes each key in producer commit order with overlapping producers and several relays, nothing lost or doubled', async () => {
  const topic = uniqueName('ordering');
  await createTopic(kafka, topic, 3);
  const outbox = new OutboxWriter({ schema: db.schema });
  const relayOptions: Partial<RelayOptions> = {
    schema: db.schema,
    pollIntervalMs: 200,
    leaseMs: 1_500,
    batchSize: 5,
    concurrency: 2,
    minBackoffMs: 50,
    maxBackoffMs: 400,
    // Prune all along (MySQL: the key-lock rows too) while producers run.
    retentionMs: 1,
    pruneIntervalMs: 100,
  };
  const start = async (relayId: string) => {
    const relay = new Relay({ knex: db.knex, publisher: new KafkaPublisher(kafka), relayId, ...relayOptions });
    await relay.start();
    return relay;
  };
  const relays = [await start('order-1'), await start('order-2')];

  // `turn`: the order in which transactions got past their key locks (enqueue returned). A
  // transaction holds its locks until it ends, so for one key this is their commit order.
  const committed: Array<{ id: string; key: string; turn: number }> = [];
  const rolledBack = new Set<string>();
  let turns = 0;
  // Enqueues that waited for another transaction's key lock (or so slow that they may have).
  let waited = 0;
  const producer = async (p: number) => {
    for (let t = 0; t < TRANSACTIONS; t++) {
      const keys = [...new Set([KEYS[(p + t) % KEYS.length], ...(t % 3 === 0 ? [KEYS[(p * 7 + t) % KEYS.length]] : [])])] as string[];
      const rollback = (p + t) % 7 === 3;
      const mine: Array<{ id: string; key: string; turn: number }> = [];
      await db.knex
        .transaction(async (trx) => {
          const began = performance.now();
          const sent = await outbox.enqueue(
            trx,
            keys.flatMap((key) => [0, 1].map((i) => ({ topic, key, payload: { p, t, i } }))),
          );
          // The key locks are held from here to the end of the transaction.
          const turn = turns++;
          if (performance.now() - began > 5) waited++;
          for (const m of sent) mine.push({ id: m.id, key: m.key, turn });
          await pause(Math.floor(Math.random() * 12));
          if (rollback) throw new Error('roll back');
        })
        .then(
          () => committed.push(...mine),
          (error: unknown) => {
            if (!rollback) throw error;
            for (const m of mine) rolledBack.add(m.id);
          },
        );
    }
  };
  const producing = Promise.all(Array.from({ length: PRODUCERS }, (_, p) => producer(p)));
  // Halfway a relay joins and one leaves: shards change hands while rows flow.
  await pause(400);
  relays.push(await start('order-3'));
  await pause(400);
  await (relays.shift() as Relay).stop();
  await producing;

  const outboxTable = tablesForDialect(db.dialect, db.schema).outbox;
  await waitFor('every committed row published', async () => (await countRows(db, outboxTable, `status = 'pending'`)) === 0, 60_000);
  if (db.dialect === 'mysql') {
    // The relays' pruning removes the key-lock rows no producer holds: all of them by now.
    const keyLocks = `\`${db.schema}\`.key_locks`;
    await waitFor('key locks pruned', async () => (await countRows(db, keyLocks, '1 = 1')) === 0, 10_000);
  }
  await Promise.all(relays.map((r) => r.stop()));

  const records = await readAll(kafka, topic);
  const ids = records.map((r) => r.headers[HeaderNames.id] as string);
  // Nothing doubled, nothing lost, nothing rolled back.
  expect(new Set(ids).size).toBe(ids.length);
  expect([...ids].sort()).toEqual(committed.map((m) => m.id).sort());
  expect(ids.filter((id) => rolledBack.has(id))).toEqual([]);
  expect(rolledBack.size).toBeGreaterThan(0);
  expect(waited).toBeGreaterThan(0);
  // Per key: the order the transactions took the key's lock, and within one, enqueue order.
  for (const key of KEYS) {
    // A stable sort: within one transaction, enqueue order.
    const expected = committed
      .filter((m) => m.key === key)
      .sort((x, y) => x.turn - y.turn)
      .map((m) => m.id);
    const published = records.filter((r) => r.key === key).map((r) => r.headers[HeaderNames.id]);
    expect(published).toEqual(expected);
    expect(expected.length).toBeGreaterThan(10);
  }
});
