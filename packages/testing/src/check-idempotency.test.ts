import { randomBytes } from 'node:crypto';
import type { ConsumedMessage } from '@onceflow/consumer';
import { migrate, OptionError } from '@onceflow/core';
import type { Knex } from 'knex';
import knexFactory from 'knex';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkIdempotency } from './check-idempotency.ts';
import { IdempotencyError, Scenarios } from './idempotency-error.ts';
import { makeMessage } from './make-message.ts';

// Integration tests against real PostgreSQL: a database of their own, removed at the end.
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const database = `onceflow_testing_${randomBytes(6).toString('hex')}`;
const connect = (name: string, max: number) => {
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max } });
};
let knex: Knex;

beforeAll(async () => {
  const admin = connect(new URL(SERVER_URL).pathname.slice(1) || 'postgres', 1);
  await admin.raw(`create database "${database}"`).finally(() => admin.destroy());
  knex = connect(database, 6);
  await migrate(knex);
  await knex.raw('create table accounts (id text primary key, balance integer not null)');
  await knex.raw('create table rewards (id bigserial primary key, order_id text not null, points integer not null)');
}, 60_000);

afterAll(async () => {
  await knex?.destroy();
  const admin = connect(new URL(SERVER_URL).pathname.slice(1) || 'postgres', 1);
  await admin.raw(`drop database if exists "${database}" with (force)`).finally(() => admin.destroy());
}, 60_000);

interface Paid {
  orderId: string;
  points: number;
}

const message = () =>
  makeMessage<Paid>({ topic: 'orders.paid', key: 'ORD-1', idempotencyKey: 'payment:PAY-1', payload: { orderId: 'ORD-1', points: 10 } });

async function reset(db: Knex): Promise<void> {
  await db.raw('truncate rewards restart identity');
  await db.raw('delete from accounts');
  await db.raw(`insert into accounts (id, balance) values ('ORD-1', 0)`);
}

async function snapshot(db: Knex) {
  return {
    rewards: (await db.raw('select order_id, points from rewards order by order_id, points')).rows,
    accounts: (await db.raw('select id, balance from accounts order by id')).rows,
  };
}

/** The right way: every write through the transaction the inbox gives. */
async function grantInTransaction(m: ConsumedMessage<Paid>, trx: Knex.Transaction): Promise<void> {
  await trx.raw('insert into rewards (order_id, points) values (?, ?)', [m.payload.orderId, m.payload.points]);
  await trx.raw('update accounts set balance = balance + ? where id = ?', [m.payload.points, m.payload.orderId]);
}

/** The classic mistake: the reward goes through the pool, outside the inbox transaction. */
async function grantThroughPool(m: ConsumedMessage<Paid>, trx: Knex.Transaction): Promise<void> {
  await knex.raw('insert into rewards (order_id, points) values (?, ?)', [m.payload.orderId, m.payload.points]);
  await trx.raw('update accounts set balance = balance + ? where id = ?', [m.payload.points, m.payload.orderId]);
}

async function failure(promise: Promise<unknown>): Promise<IdempotencyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IdempotencyError);
  return error as IdempotencyError;
}

describe('checkIdempotency against real PostgreSQL', { timeout: 60_000 }, () => {
  beforeEach(async () => {
    await reset(knex);
  });

  it('passes a handler that writes only through its transaction, in every scenario, and leaves nothing behind', async () => {
    const consumerName = 'kit-good';
    const report = await checkIdempotency({ knex, handler: grantInTransaction, message: message(), snapshot, reset, consumerName });
    expect(report.single).toEqual({ rewards: [{ order_id: 'ORD-1', points: 10 }], accounts: [{ id: 'ORD-1', balance: 10 }] });
    expect(report.scenarios.map((s) => [s.scenario, s.outcomes, s.handlerCalls])).toEqual([
      ['sequential', ['handled', 'duplicate'], 1],
      ['concurrent', ['handled', 'duplicate (waited on the first copy)'], 1],
      ['crash-before-offset-commit', ['handled', 'duplicate'], 1],
      ['rollback-then-redeliver', ['rolled back', 'handled'], 2],
    ]);
    // The kit resets the user's tables and deletes its inbox rows when it is done.
    expect(await snapshot(knex)).toEqual({ rewards: [], accounts: [{ id: 'ORD-1', balance: 0 }] });
    expect((await knex.raw('select count(*)::int as n from onceflow.inbox where consumer = ?', [consumerName])).rows[0].n).toBe(0);
  });

  it('reports a handler that writes through the pool as a double effect, with the extra row', async () => {
    const error = await failure(checkIdempotency({ knex, handler: grantThroughPool, message: message(), snapshot, reset }));
    expect(error.scenario).toBe(Scenarios.rollbackThenRedeliver);
    expect(error.message).toContain('a double effect');
    expect(error.message).toContain('writes outside the transaction it is given');
    expect(error.differences).toEqual(['rewards: 2 items; a single delivery leaves 1', '  + {"order_id":"ORD-1","points":10}']);
    expect(error.outcomes).toEqual(['rolled back', 'handled']);
    expect(error.handlerCalls).toBe(2);
    expect(error.actual).toEqual({
      accounts: [{ balance: 10, id: 'ORD-1' }],
      rewards: [
        { order_id: 'ORD-1', points: 10 },
        { order_id: 'ORD-1', points: 10 },
      ],
    });
    // The kit still cleaned up after the failure.
    expect(await snapshot(knex)).toEqual({ rewards: [], accounts: [{ id: 'ORD-1', balance: 0 }] });
  });

  it('reports an idempotent write outside the transaction too: a rolled-back (or parked) message must leave no effect', async () => {
    await knex.raw('create table if not exists notices (order_id text primary key)');
    const handler = async (m: ConsumedMessage<Paid>, trx: Knex.Transaction) => {
      await knex.raw('insert into notices (order_id) values (?) on conflict do nothing', [m.payload.orderId]);
      await grantInTransaction(m, trx);
    };
    const withNotices = async (db: Knex) => ({ ...(await snapshot(db)), notices: (await db.raw('select order_id from notices')).rows });
    const resetNotices = async (db: Knex) => {
      await reset(db);
      await db.raw('delete from notices');
    };
    const error = await failure(checkIdempotency({ knex, handler, message: message(), snapshot: withNotices, reset: resetNotices }));
    expect(error.scenario).toBe(Scenarios.rollbackThenRedeliver);
    expect(error.message).toContain('a message that fails (or is parked as dead) still leaves an effect');
    expect(error.differences).toEqual(['notices: 1 items; a single delivery leaves 0', '  + {"order_id":"ORD-1"}']);
  });

  it('catches a dedup function that differs between copies (it uses the offset): both copies take effect', async () => {
    const dedup = (m: ConsumedMessage) => `${m.idempotencyKey}@${m.offset}`;
    const sequential = await failure(
      checkIdempotency({ knex, handler: grantInTransaction, message: message(), snapshot, reset, dedup, scenarios: ['sequential'] }),
    );
    expect(sequential.outcomes).toEqual(['handled', 'handled']);
    expect(sequential.differences).toContain('accounts: 1 items, as after a single delivery, but some differ');
    const concurrent = await failure(
      checkIdempotency({ knex, handler: grantInTransaction, message: message(), snapshot, reset, dedup, scenarios: ['concurrent'] }),
    );
    expect(concurrent.outcomes).toEqual(['handled', 'handled (did not wait on the first copy)']);
    expect(concurrent.handlerCalls).toBe(2);
    // The very same record (same offset) redelivered after a lost offset commit is still skipped.
    await checkIdempotency({
      knex,
      handler: grantInTransaction,
      message: message(),
      snapshot,
      reset,
      dedup,
      scenarios: ['crash-before-offset-commit'],
    });
  });

  it('refuses a snapshot that cannot see the effect, and a reset that does not restore the start', async () => {
    const blind = await failure(
      checkIdempotency({ knex, handler: grantInTransaction, message: message(), snapshot: () => 'nothing', reset }),
    );
    expect(blind.scenario).toBe('single');
    expect(blind.message).toContain('changed nothing that snapshot() reads');
    await checkIdempotency({
      knex,
      handler: grantInTransaction,
      message: message(),
      snapshot: () => 'nothing',
      reset,
      expectEffect: false,
    });

    let resets = 0;
    const driftingReset = async (db: Knex) => {
      await reset(db);
      if (resets++ > 0) await db.raw(`update accounts set balance = 99`);
    };
    await expect(
      checkIdempotency({ knex, handler: grantInTransaction, message: message(), snapshot, reset: driftingReset }),
    ).rejects.toThrow(/reset\(\) did not bring the database back to its starting state before scenario "sequential"/);
  });

  it('says so when the handler fails on a single delivery', async () => {
    const handler = async () => {
      throw new Error('no such account');
    };
    await expect(checkIdempotency({ knex, handler, message: message(), snapshot, reset })).rejects.toThrow(
      /The handler failed on a single delivery of orders\.paid\/0@0, so nothing can be compared: Error: no such account/,
    );
  });

  it('validates its options with OptionError naming the option', async () => {
    const base = { knex, handler: grantInTransaction, message: message(), snapshot, reset };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ handler: undefined }, 'handler'],
      [{ snapshot: 'rows' }, 'snapshot'],
      [{ reset: undefined }, 'reset'],
      [{ message: { topic: 't' } }, 'message'],
      [{ scenarios: ['twice'] }, 'scenarios'],
      [{ scenarios: [] }, 'scenarios'],
      [{ schema: 'x"; drop table rewards; --' }, 'schema'],
      [{ consumerName: '' }, 'consumerName'],
      [{ dedup: 'offset' }, 'dedup'],
      [{ knex: {} }, 'knex'],
      [{ waitTimeoutMs: 5 }, 'waitTimeoutMs'],
      [{ expectEffect: 'yes' }, 'expectEffect'],
    ];
    for (const [override, option] of cases) {
      const error = await checkIdempotency({ ...base, ...override } as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, option).toBeInstanceOf(OptionError);
      expect((error as OptionError).option, option).toBe(option);
    }
    const small = connect(database, 2);
    try {
      await expect(checkIdempotency({ ...base, knex: small })).rejects.toThrow(
        /Invalid option knex: expected a pool of at least 3 connections/,
      );
      await checkIdempotency({ ...base, knex: small, scenarios: ['sequential', 'crash-before-offset-commit'] });
    } finally {
      await small.destroy();
    }
    expect((await knex.raw('select count(*)::int as n from rewards')).rows[0].n).toBe(0);
  });
});
