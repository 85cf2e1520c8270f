import { randomUUID } from 'node:crypto';
import { migrate } from '@onceflow/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestDatabase } from '../support/database.ts';
import { createTestDatabase } from '../support/database.ts';
import { checkInvariants, failures } from './checker.ts';
import { createChaosTables } from './tables.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(2);
  await migrate(db.knex, { schema: db.schema });
  await createChaosTables(db.knex, ['a'], 3);
});
afterAll(async () => {
  await db?.drop();
});

/** Hand-made rows: what producers committed, what handlers applied, what relays and consumers left. */
async function load(sent: Array<[string, string, number, boolean?]>, ledger: Array<[string, string, number, number]>) {
  const k = db.knex;
  // Through knex's query builder, which quotes and spells these for PostgreSQL and MySQL alike.
  for (const table of ['chaos_sent', 'chaos_ledger', 'chaos_rolled_back']) await k(table).truncate();
  for (const table of ['outbox', 'dead_letters', 'inbox']) await k.withSchema(db.schema).from(table).truncate();
  await k('chaos_balance').update({ last_seq: 0, applied: 0 });
  for (const [ik, key, seq, poison] of sent) {
    await k('chaos_sent').insert({ ik, tx: 't', worker: 0, topic: 'a', msg_key: key, key_seq: seq, poison: poison ?? false });
  }
  for (const [ik, key, seq, prev] of ledger) {
    await k('chaos_ledger').insert({ ik, topic: 'a', msg_key: key, key_seq: seq, prev_seq: prev, consumer: 'c' });
    await k('chaos_balance')
      .where({ topic: 'a', msg_key: key })
      .update({ last_seq: seq, applied: k.raw('applied + 1') });
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
  const result = await checkInvariants(db.knex, 'c', db.schema);
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
  const result = await checkInvariants(db.knex, 'c', db.schema);
  expect(result).toMatchObject({ lost: 2, double: 1, reordered: 2, phantom: 1, balanceMismatch: 0 });
});

it('expects dead letters exactly for poison, and nothing left in the outbox or inbox', async () => {
  await load(
    [...committed, ['p1', 'k2', 1, true], ['p2', 'k2', 2, true], ['p3', 'k2', 3, true]],
    [
      ['m1', 'k0', 1, 0],
      ['m2', 'k0', 2, 1],
      ['m3', 'k0', 3, 2],
      ['m4', 'k1', 1, 0],
      ['p2', 'k2', 2, 0],
    ],
  );
  const k = db.knex;
  const onceflow = (table: string) => k.withSchema(db.schema).into(table);
  const dead = (consumer: string, offset: number, fields: Record<string, unknown>) =>
    onceflow('dead_letters').insert({ consumer, topic: 'a', partition: 0, offset, attempts: 1, ...fields });
  await dead('c', 10, { dedup_key: 'p1' });
  await dead('c', 11, { dedup_key: 'm3' }); // a good message parked
  await dead('other', 12, { dedup_key: 'm4' }); // another consumer's: not ours to judge
  await dead('c', 13, { headers: JSON.stringify({ 'onceflow-idempotency-key': 'p3' }) }); // named by its header only
  const outbox = (idempotencyKey: string, status: string) =>
    onceflow('outbox').insert({
      id: randomUUID(),
      topic: 'a',
      key: 'k0',
      shard: 0,
      idempotency_key: idempotencyKey,
      payload: Buffer.from([0]),
      status,
    });
  await outbox('i1', 'published');
  await outbox('i2', 'pending');
  await outbox('i3', 'dead');
  await onceflow('inbox').insert({ consumer: 'c', dedup_key: 'x', status: 'processing' });
  await k('chaos_balance').where({ msg_key: 'k1' }).increment('applied', 1);
  const result = await checkInvariants(db.knex, 'c', db.schema);
  expect(result).toMatchObject({
    poison: 3,
    deadLetters: 3,
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
