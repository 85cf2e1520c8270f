import { migrate } from '@onceflow/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestDatabase } from '../support/database.ts';
import { createTestDatabase } from '../support/database.ts';
import { checkInvariants, failures } from './checker.ts';
import { createChaosTables } from './tables.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(2);
  await migrate(db.knex);
  await createChaosTables(db.knex, ['a'], 3);
});
afterAll(async () => {
  await db?.drop();
});

/** Hand-made rows: what producers committed, what handlers applied, what relays and consumers left. */
async function load(sent: Array<[string, string, number, boolean?]>, ledger: Array<[string, string, number, number]>) {
  const k = db.knex;
  await k.raw('truncate chaos_sent, chaos_ledger, chaos_rolled_back, onceflow.outbox, onceflow.dead_letters, onceflow.inbox');
  await k.raw('update chaos_balance set last_seq = 0, applied = 0');
  for (const [ik, key, seq, poison] of sent) {
    await k.raw(`insert into chaos_sent (ik, tx, worker, topic, key, key_seq, poison) values (?, 't', 0, 'a', ?, ?, ?)`, [
      ik,
      key,
      seq,
      poison ?? false,
    ]);
  }
  for (const [ik, key, seq, prev] of ledger) {
    await k.raw(`insert into chaos_ledger (ik, topic, key, key_seq, prev_seq, consumer) values (?, 'a', ?, ?, ?, 'c')`, [
      ik,
      key,
      seq,
      prev,
    ]);
    await k.raw(`update chaos_balance set last_seq = ?, applied = applied + 1 where topic = 'a' and key = ?`, [seq, key]);
  }
}

const committed: Array<[string, string, number, boolean?]> = [
  ['m1', 'k0', 1],
  ['m2', 'k0', 2],
  ['m3', 'k0', 3],
  ['m4', 'k1', 1],
];

it('passes a run where every message took effect once, in order', async () => {
  await load(committed, [
    ['m4', 'k1', 1, 0],
    ['m1', 'k0', 1, 0],
    ['m2', 'k0', 2, 1],
    ['m3', 'k0', 3, 2],
  ]);
  const result = await checkInvariants(db.knex, 'c');
  expect(failures(result)).toEqual([]);
  expect(result).toMatchObject({ messages: 4, effects: 4, lost: 0, double: 0, reordered: 0 });
});

it('counts lost, double, phantom and reordered effects', async () => {
  await load(committed, [
    ['m2', 'k0', 2, 0], // applied before m1: both links broken
    ['m1', 'k0', 1, 2],
    ['m1', 'k0', 1, 1], // a second effect of m1
    ['ghost', 'k1', 2, 0], // never committed
  ]);
  const result = await checkInvariants(db.knex, 'c');
  expect(result).toMatchObject({ lost: 2, double: 1, reordered: 2, phantom: 1, balanceMismatch: 0 });
});

it('expects dead letters exactly for poison, and nothing left in the outbox or inbox', async () => {
  await load(
    [...committed, ['p1', 'k2', 1, true], ['p2', 'k2', 2, true]],
    [
      ['m1', 'k0', 1, 0],
      ['m2', 'k0', 2, 1],
      ['m3', 'k0', 3, 2],
      ['m4', 'k1', 1, 0],
      ['p2', 'k2', 2, 0],
    ],
  );
  const k = db.knex;
  const dead = `insert into onceflow.dead_letters (consumer, topic, partition, "offset", dedup_key, attempts) values (?, 'a', 0, ?, ?, 1)`;
  await k.raw(dead, ['c', 10, 'p1']);
  await k.raw(dead, ['c', 11, 'm3']); // a good message parked
  await k.raw(dead, ['other', 12, 'm4']); // another consumer's: not ours to judge
  const outbox = `insert into onceflow.outbox (id, topic, key, shard, idempotency_key, payload, status) values (gen_random_uuid(), 'a', 'k0', 0, ?, '\\x00', ?)`;
  await k.raw(outbox, ['i1', 'published']);
  await k.raw(outbox, ['i2', 'pending']);
  await k.raw(outbox, ['i3', 'dead']);
  await k.raw(`insert into onceflow.inbox (consumer, dedup_key, status) values ('c', 'x', 'processing')`);
  await k.raw(`update chaos_balance set applied = applied + 1 where key = 'k1'`);
  const result = await checkInvariants(db.knex, 'c');
  expect(result).toMatchObject({
    poison: 2,
    deadLetters: 2,
    poisonApplied: 1,
    poisonMissing: 1,
    unexpectedDeadLetters: 1,
    pending: 1,
    outboxDead: 1,
    inboxProcessing: 1,
    balanceMismatch: 1,
  });
  expect(failures(result)).toHaveLength(7);
});
