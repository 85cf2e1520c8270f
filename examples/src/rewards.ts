/**
 * The rewards service's handler from the order/reward demo, as a module its test can import:
 * an `order.paid` message grants the order's points once.
 */
import type { ConsumedMessage } from '@onceflow/consumer';
import type { Knex } from 'knex';

/** The payload of `order.paid`. */
export interface OrderPaid {
  readonly orderId: string;
  readonly paymentId: string;
  readonly points: number;
}

/** Creates the rewards tables: one row per reward granted, and each customer's point balance. */
export async function createRewardTables(knex: Knex): Promise<void> {
  await knex.raw(
    `create table if not exists rewards (id bigserial primary key, order_id text not null, points integer not null, granted_at timestamptz not null default now())`,
  );
  await knex.raw(`create table if not exists balances (order_id text primary key, points integer not null)`);
}

/**
 * Grants the order's points. Every write goes through `trx`, the transaction that also records
 * the message in the inbox: the reward commits exactly when the inbox row does.
 */
export async function grantReward(message: ConsumedMessage<OrderPaid>, trx: Knex.Transaction): Promise<void> {
  const { orderId, points } = message.payload;
  await trx('rewards').insert({ order_id: orderId, points });
  await trx.raw(
    `insert into balances (order_id, points) values (?, ?)
     on conflict (order_id) do update set points = balances.points + excluded.points`,
    [orderId, points],
  );
}
