import { setTimeout as sleep } from 'node:timers/promises';
import { migrate, SchemaVersionError, shardOf, ValidationError } from '@onceflow/core';
import type { EnqueuedMessage } from '@onceflow/producer';
import { DuplicateMessageError, OutboxWriter } from '@onceflow/producer';
import type { Knex } from 'knex';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createMariadbDatabase, rowsOf } from './support/mariadb.ts';

let db: TestDatabase;
let outbox: OutboxWriter;

beforeAll(async () => {
  db = await createMariadbDatabase(16);
  await migrate(db.knex, { schema: db.name });
  outbox = new OutboxWriter({ schema: db.name });
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.knex.raw(`delete from \`${db.name}\`.outbox`);
});

interface StoredRow {
  seq: number;
  id: string;
  topic: string;
  key: string;
  idempotency_key: string;
  type: string | null;
  payload: string;
  headers: Record<string, string>;
  shard: number;
  available_at: string;
  created_at: string;
}

async function rows(): Promise<StoredRow[]> {
  const result = await db.knex.raw(
    `select seq, id, topic, \`key\`, idempotency_key, type, payload, headers, shard,
       date_format(available_at, '%Y-%m-%d %H:%i:%s.%f') as available_at,
       date_format(created_at, '%Y-%m-%d %H:%i:%s.%f') as created_at
     from \`${db.name}\`.outbox order by seq`,
  );
  return rowsOf<Record<string, unknown>>(result).map((r) => ({
    ...(r as unknown as StoredRow),
    seq: Number(r.seq),
    key: (r.key as Buffer).toString('utf8'),
    idempotency_key: (r.idempotency_key as Buffer).toString('utf8'),
    payload: (r.payload as Buffer).toString('utf8'),
    // JSON is text on MariaDB, a parsed value on MySQL 8.
    headers: (typeof r.headers === 'string' ? JSON.parse(r.headers) : r.headers) as Record<string, string>,
  }));
}

/** A transaction left open until `commit()` or `rollback()`, as a producer's business transaction. */
async function open(): Promise<Knex.Transaction> {
  return db.knex.transaction();
}

/** Whether `promise` is still pending after `ms`. */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await sleep(ms);
  return !settled;
}

describe('enqueue on MariaDB', () => {
  it('writes a message in the caller transaction and only if it commits', async () => {
    const sent = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, { topic: 'orders', key: 'O-1', payload: { total: 12 }, type: 'order.paid', headers: { a: 'b' } }),
    );
    await db.knex
      .transaction(async (trx) => {
        await outbox.enqueue(trx, { topic: 'orders', key: 'O-2', payload: 1 });
        throw new Error('rollback');
      })
      .catch(() => undefined);
    const stored = await rows();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      id: sent.id,
      topic: 'orders',
      key: 'O-1',
      idempotency_key: sent.id,
      type: 'order.paid',
      payload: '{"total":12}',
      headers: { a: 'b' },
      shard: shardOf('orders', 'O-1'),
    });
    expect(sent).toMatchObject({ duplicate: false, idempotencyKey: sent.id });
    // Times are UTC: due now, created now.
    const now = Date.parse(`${new Date().toISOString().slice(0, 19)}Z`);
    expect(Math.abs(Date.parse(`${stored[0]?.available_at.replace(' ', 'T')}Z`) - now)).toBeLessThan(60_000);
    expect(Math.abs(Date.parse(`${stored[0]?.created_at.replace(' ', 'T')}Z`) - now)).toBeLessThan(60_000);
  });

  it('returns the first message for a repeated (topic, idempotencyKey), or fails when asked', async () => {
    const first = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, { topic: 'pay', key: 'P', payload: {}, idempotencyKey: 'payment:PAY-981' }),
    );
    const again = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, [
        { topic: 'pay', key: 'P', payload: { n: 2 }, idempotencyKey: 'payment:PAY-981' },
        { topic: 'pay', key: 'P', payload: { n: 3 }, idempotencyKey: 'payment:PAY-982' },
        // The same key on another topic is another message.
        { topic: 'refund', key: 'P', payload: { n: 4 }, idempotencyKey: 'payment:PAY-981' },
        // Keys compare as bytes: a trailing space makes another key (utf8mb4_bin would pad it).
        { topic: 'pay', key: 'P', payload: { n: 5 }, idempotencyKey: 'payment:PAY-981 ' },
        // A repeat within one call names the first.
        { topic: 'pay', key: 'P', payload: { n: 6 }, idempotencyKey: 'payment:PAY-982' },
      ]),
    );
    expect(again.map((r) => r.duplicate)).toEqual([true, false, false, false, true]);
    expect(again[0]?.id).toBe(first.id);
    expect(again[4]?.id).toBe(again[1]?.id);
    const stored = await rows();
    expect(stored.map((r) => [r.topic, r.idempotency_key, r.payload])).toEqual([
      ['pay', 'payment:PAY-981', '{}'],
      ['pay', 'payment:PAY-982', '{"n":3}'],
      ['refund', 'payment:PAY-981', '{"n":4}'],
      ['pay', 'payment:PAY-981 ', '{"n":5}'],
    ]);

    const strict = new OutboxWriter({ schema: db.name, onDuplicate: 'error' });
    const failed = db.knex.transaction((trx) =>
      strict.enqueue(trx, { topic: 'pay', key: 'P', payload: {}, idempotencyKey: 'payment:PAY-981' }),
    );
    await expect(failed).rejects.toBeInstanceOf(DuplicateMessageError);
    await expect(failed).rejects.toMatchObject({ topic: 'pay', idempotencyKey: 'payment:PAY-981', existingId: first.id });
    expect(await rows()).toHaveLength(4);
  });

  it('locks nothing for a duplicate committed before: an open retry leaves the relay and other producers free', async () => {
    const [first] = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, [{ topic: 'orders', key: 'K', idempotencyKey: 'order-1', payload: 1 }]),
    );
    // A client retries the same enqueue inside a business transaction that stays open.
    const retry = await open();
    try {
      const [again] = await outbox.enqueue(retry, [{ topic: 'orders', key: 'K', idempotencyKey: 'order-1', payload: 1 }]);
      expect(again).toMatchObject({ id: first?.id, duplicate: true });
      // The relay's mark of that row, and an enqueue of the topic with a default key (a uuid v7,
      // sorting just below 'order-1'), go through at once instead of waiting for the retry.
      const impatient = await db.knex.transaction();
      try {
        await impatient.raw('set session innodb_lock_wait_timeout = 1');
        await impatient.raw(`update \`${db.name}\`.outbox set status = 'published' where id = ?`, [first?.id as string]);
        const [other] = await outbox.enqueue(impatient, [{ topic: 'orders', key: 'L', payload: 2 }]);
        expect(other?.duplicate).toBe(false);
      } finally {
        await impatient.raw('set session innodb_lock_wait_timeout = default');
        await impatient.rollback();
      }
    } finally {
      await retry.rollback();
    }
  });

  it('stores a delayed message due at its time, in UTC', async () => {
    const at = new Date('2040-01-02T03:04:05.678Z');
    await db.knex.transaction((trx) => outbox.enqueue(trx, { topic: 'later', key: 'L', payload: 'x', availableAt: at }));
    expect((await rows())[0]?.available_at).toBe('2040-01-02 03:04:05.678000');
  });

  it('keeps keys, idempotency keys and headers with 4-byte UTF-8 exactly', async () => {
    const key = 'order-😀-𝄞';
    const sent = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, { topic: 'emoji', key, payload: { k: '🎉' }, idempotencyKey: `pay-${key}`, headers: { note: '🚀' } }),
    );
    const again = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, { topic: 'emoji', key, payload: {}, idempotencyKey: `pay-${key}` }),
    );
    expect(again).toMatchObject({ duplicate: true, id: sent.id });
    expect(await rows()).toMatchObject([{ key, idempotency_key: `pay-${key}`, payload: '{"k":"🎉"}', headers: { note: '🚀' } }]);
  });

  it('refuses bad input with a ValidationError naming the field, writing nothing', async () => {
    const cases: Array<[unknown, string]> = [
      [{ topic: 'orders', payload: 1 }, 'key'],
      [{ topic: 'orders', key: 'a\u0000b', payload: 1 }, 'key'],
      [{ topic: 'orders', key: '😀'.repeat(257), payload: 1 }, 'key'],
      [{ topic: 'orders', key: 'k', payload: 1, idempotencyKey: 'x\u0000' }, 'idempotencyKey'],
      [{ topic: 'orders', key: 'k', payload: 1, idempotencyKey: '𝄞'.repeat(300) }, 'idempotencyKey'],
      [{ topic: 'orders', key: '\ud83d', payload: 1 }, 'key'],
      [{ topic: 'orders', key: 'k', payload: 1, headers: { h: 'v\u0000' } }, 'headers.h'],
      [{ topic: 'bad topic', key: 'k', payload: 1 }, 'topic'],
      [{ topic: 'orders', key: 'k', payload: { n: 1n } }, 'payload.n'],
      [{ topic: 'orders', key: 'k', payload: 1, availableAt: new Date('invalid') }, 'availableAt'],
      // Beyond MySQL DATETIME, which ends in the year 9999.
      [{ topic: 'orders', key: 'k', payload: 1, availableAt: new Date(Date.UTC(10_000, 0, 1)) }, 'availableAt'],
    ];
    for (const [message, field] of cases) {
      const attempt = db.knex.transaction((trx) => outbox.enqueue(trx, message as never));
      await expect(attempt, field).rejects.toBeInstanceOf(ValidationError);
      await expect(attempt, field).rejects.toMatchObject({ field });
    }
    const batch = db.knex.transaction((trx) =>
      outbox.enqueue(trx, [
        { topic: 'orders', key: 'ok', payload: 1 },
        { topic: 'orders', key: 'a\u0000', payload: 1 },
      ]),
    );
    await expect(batch).rejects.toMatchObject({ field: 'messages[1].key' });
    expect(await rows()).toEqual([]);
  });

  it("commits or rolls back the message with the business write in the application's own database", async () => {
    // The outbox in a database of its own beside the application's, as a schema on PostgreSQL.
    const schema = `${db.name}_ob`;
    await db.knex.raw('create table orders (id varchar(20) primary key, paid boolean not null)');
    try {
      await migrate(db.knex, { schema });
      const writer = new OutboxWriter({ schema });
      await db.knex.transaction(async (trx) => {
        await trx('orders').insert({ id: 'ORD-1', paid: true });
        await writer.enqueue(trx, { topic: 'orders.paid', key: 'ORD-1', payload: {} });
      });
      await db.knex
        .transaction(async (trx) => {
          await trx('orders').insert({ id: 'ORD-2', paid: true });
          await writer.enqueue(trx, { topic: 'orders.paid', key: 'ORD-2', payload: {} });
          throw new Error('rollback');
        })
        .catch(() => undefined);
      expect(await db.knex('orders').pluck('id')).toEqual(['ORD-1']);
      const keys = rowsOf<{ key: Buffer }>(await db.knex.raw(`select \`key\` from \`${schema}\`.outbox`));
      expect(keys.map((r) => r.key.toString())).toEqual(['ORD-1']);
    } finally {
      await db.knex.raw('drop table if exists orders');
      await db.knex.raw(`drop database if exists \`${schema}\``);
    }
  });

  it('reports a database without Onceflow tables as a SchemaVersionError', async () => {
    const elsewhere = new OutboxWriter({ schema: `${db.name}_missing` });
    const attempt = db.knex.transaction((trx) => elsewhere.enqueue(trx, { topic: 't', key: 'k', payload: 1 }));
    await expect(attempt).rejects.toBeInstanceOf(SchemaVersionError);
    await expect(attempt).rejects.toMatchObject({ found: null });
  });
});

describe('per-key order on MariaDB', () => {
  it('makes an overlapping producer of the same key wait for the first to commit, so seq order is commit order', async () => {
    const t1 = await open();
    const t2 = await open();
    const t3 = await open();
    try {
      const first = await outbox.enqueue(t1, { topic: 'orders', key: 'K', payload: 'first' });
      const second = outbox.enqueue(t2, { topic: 'orders', key: 'K', payload: 'second' });
      expect(await pendingAfter(second, 500)).toBe(true);
      // Another key is not held back.
      await outbox.enqueue(t3, { topic: 'orders', key: 'other', payload: 'other' });
      await t3.commit();
      // T1 writes more for K while T2 waits, then commits; T2 goes on only then.
      await outbox.enqueue(t1, { topic: 'orders', key: 'K', payload: 'first-again' });
      expect(await pendingAfter(second, 100)).toBe(true);
      await t1.commit();
      const secondResult = await second;
      await t2.commit();
      const stored = (await rows()).filter((r) => r.key === 'K');
      expect(stored.map((r) => r.payload)).toEqual(['"first"', '"first-again"', '"second"']);
      expect(stored[0]?.id).toBe(first.id);
      expect(stored[2]?.id).toBe(secondResult.id);
    } finally {
      for (const t of [t1, t2, t3]) if (!t.isCompleted()) await t.rollback().catch(() => undefined);
    }
  });

  it('lets the waiting producer go on when the first rolls back', async () => {
    const t1 = await open();
    const t2 = await open();
    try {
      await outbox.enqueue(t1, { topic: 'orders', key: 'R', payload: 'rolled-back' });
      const second = outbox.enqueue(t2, { topic: 'orders', key: 'R', payload: 'kept' });
      expect(await pendingAfter(second, 300)).toBe(true);
      await t1.rollback();
      await second;
      await t2.commit();
      expect((await rows()).map((r) => r.payload)).toEqual(['"kept"']);
    } finally {
      for (const t of [t1, t2]) if (!t.isCompleted()) await t.rollback().catch(() => undefined);
    }
  });

  it('orders many overlapping producers of one key by their commits', async () => {
    const commits: string[] = [];
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        db.knex.transaction(async (trx) => {
          await sleep(Math.random() * 30);
          const sent = await outbox.enqueue(trx, { topic: 'orders', key: 'hot', payload: i });
          await sleep(Math.random() * 20);
          // Collected before the commit returns: the next producer of the key is still waiting then.
          commits.push(sent.id);
        }),
      ),
    );
    expect((await rows()).map((r) => r.id)).toEqual(commits);
  });

  it('does not deadlock two multi-key producers that name their keys in opposite order', async () => {
    const results: EnqueuedMessage[][] = [];
    const failures: unknown[] = [];
    for (let round = 0; round < 15; round++) {
      const run = (keys: string[]) =>
        db.knex
          .transaction(async (trx) => {
            const sent = await outbox.enqueue(
              trx,
              keys.map((key) => ({ topic: 'pairs', key, payload: { round, keys } })),
            );
            await sleep(5);
            return sent;
          })
          .then(
            (sent) => results.push(sent),
            (error: unknown) => failures.push(error),
          );
      await Promise.all([run(['A', 'B', 'C']), run(['C', 'B', 'A'])]);
    }
    expect(failures).toEqual([]);
    expect(results).toHaveLength(30);
    // Each key's rows come in the order their transactions committed (results' order).
    const committed = results.flat();
    const stored = await rows();
    for (const key of ['A', 'B', 'C']) {
      const ids = committed.filter((r) => r.key === key).map((r) => r.id);
      expect(stored.filter((r) => r.key === key).map((r) => r.id)).toEqual(ids);
    }
  });
});
