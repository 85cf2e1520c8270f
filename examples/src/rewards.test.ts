/**
 * How to test your own handler with @onceflow/testing: the reward handler against a real
 * PostgreSQL database, delivered twice in sequence, twice at once, after a crash before the
 * offset commit and after a crash before the DB commit; each must leave one reward.
 */
import { randomBytes } from 'node:crypto';
import type { ConsumedMessage } from '@onceflow/consumer';
import { migrate } from '@onceflow/core';
import { checkIdempotency, IdempotencyError, makeMessage } from '@onceflow/testing';
import type { Knex } from 'knex';
import knexFactory from 'knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OrderPaid } from './rewards.ts';
import { createRewardTables, grantReward } from './rewards.ts';

const server = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const database = `onceflow_example_${randomBytes(6).toString('hex')}`;
const connect = (name: string) => {
  const url = new URL(server);
  url.pathname = `/${name}`;
  return knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 5 } });
};
let knex: Knex;

beforeAll(async () => {
  const admin = connect('postgres');
  await admin.raw(`create database "${database}"`).finally(() => admin.destroy());
  knex = connect(database);
  await migrate(knex);
  await createRewardTables(knex);
});

afterAll(async () => {
  await knex?.destroy();
  const admin = connect('postgres');
  await admin.raw(`drop database if exists "${database}" with (force)`).finally(() => admin.destroy());
});

const orderPaid = makeMessage<OrderPaid>({
  topic: 'orders.paid',
  key: 'ORD-7',
  type: 'order.paid',
  idempotencyKey: 'payment:PAY-981',
  payload: { orderId: 'ORD-7', paymentId: 'PAY-981', points: 10 },
});

// What the handler changes, without the columns that differ on every run (id, granted_at).
const snapshot = async (db: Knex) => ({
  rewards: await db('rewards').select('order_id', 'points').orderBy(['order_id', 'points']),
  balances: await db('balances').select('order_id', 'points').orderBy('order_id'),
});
const reset = async (db: Knex) => {
  await db.raw('truncate rewards, balances restart identity');
};

it('grants one reward however the order.paid message is delivered', async () => {
  const report = await checkIdempotency({ knex, handler: grantReward, message: orderPaid, snapshot, reset });
  expect(report.single).toEqual({ rewards: [{ order_id: 'ORD-7', points: 10 }], balances: [{ order_id: 'ORD-7', points: 10 }] });
  expect(report.scenarios).toHaveLength(4);
});

it('catches the classic mistake: granting through the pool instead of the transaction', async () => {
  const grantThroughPool = async (message: ConsumedMessage<OrderPaid>, trx: Knex.Transaction) => {
    const { orderId, points } = message.payload;
    await knex('rewards').insert({ order_id: orderId, points }); // wrong: the pool, not trx
    await trx.raw(
      'insert into balances (order_id, points) values (?, ?) on conflict (order_id) do update set points = balances.points + excluded.points',
      [orderId, points],
    );
  };
  const check = checkIdempotency({ knex, handler: grantThroughPool, message: orderPaid, snapshot, reset });
  await expect(check).rejects.toThrow(IdempotencyError);
  await expect(check).rejects.toThrow(/rewards: 2 items; a single delivery leaves 1/);
});
