import { migrate, OptionError, shardOf, ValidationError } from '@onceflow/core';
import { DuplicateMessageError, OutboxWriter } from '@onceflow/producer';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase } from './support/database.ts';

let db: TestDatabase;
const outbox = new OutboxWriter();

beforeAll(async () => {
  db = await createTestDatabase();
  await migrate(db.knex);
});
afterAll(async () => {
  await db?.drop();
});

async function rows() {
  const result = await db.knex.raw(
    `select id, topic, key, idempotency_key, type, convert_from(payload, 'utf8') as payload, headers, shard from onceflow.outbox order by seq`,
  );
  return result.rows as Array<Record<string, unknown>>;
}

describe('enqueue', () => {
  it('writes a message in the caller transaction and only if it commits', async () => {
    await db.knex.raw('truncate onceflow.outbox');
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
    });
    expect(sent.duplicate).toBe(false);
  });

  it('returns the first message for a repeated (topic, idempotencyKey), or fails when asked', async () => {
    await db.knex.raw('truncate onceflow.outbox');
    const first = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, { topic: 'pay', key: 'P', payload: {}, idempotencyKey: 'payment:PAY-981' }),
    );
    const again = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, [
        { topic: 'pay', key: 'P', payload: { n: 2 }, idempotencyKey: 'payment:PAY-981' },
        { topic: 'pay', key: 'P', payload: { n: 3 }, idempotencyKey: 'payment:PAY-982' },
        { topic: 'other', key: 'P', payload: { n: 4 }, idempotencyKey: 'payment:PAY-981' },
      ]),
    );
    expect(again.map((m) => m.duplicate)).toEqual([true, false, false]);
    expect(again[0]?.id).toBe(first.id);
    expect(await rows()).toHaveLength(3);
    const strict = new OutboxWriter({ onDuplicate: 'error' });
    await expect(
      db.knex.transaction((trx) => strict.enqueue(trx, { topic: 'pay', key: 'P', payload: {}, idempotencyKey: 'payment:PAY-981' })),
    ).rejects.toBeInstanceOf(DuplicateMessageError);
  });

  it('refuses bad input naming the field, and writes nothing of the call', async () => {
    await db.knex.raw('truncate onceflow.outbox');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: Array<[unknown, string]> = [
      [{ topic: 'orders', payload: 1 }, 'messages[1].key'],
      [{ key: 'k', payload: 1 }, 'messages[1].topic'],
      [{ topic: 'bad topic!', key: 'k', payload: 1 }, 'messages[1].topic'],
      [{ topic: 'orders', key: 'k', payload: cyclic }, 'messages[1].payload'],
      [{ topic: 'orders', key: 'k', payload: { amount: 10n } }, 'messages[1].payload.amount'],
      [{ topic: 'orders', key: 'k', payload: { f: Number.NaN } }, 'messages[1].payload.f'],
      [{ topic: 'orders', key: 'k', payload: 'x'.repeat(1_000_001) }, 'messages[1].payload'],
    ];
    for (const [bad, field] of cases) {
      const error = await db.knex
        .transaction((trx) => outbox.enqueue(trx, [{ topic: 'orders', key: 'good', payload: 1 }, bad as never]))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error, field).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe(field);
    }
    expect(await rows()).toHaveLength(0);
  });

  it('refuses values PostgreSQL cannot store or index before any SQL, so the business transaction stays usable', async () => {
    await db.knex.raw('truncate onceflow.outbox');
    await db.knex.raw('create table if not exists producer_orders (id text primary key)');
    const hostile: Array<[Record<string, unknown>, string]> = [
      [{ headers: { 'x-note': 'a\u0000b' } }, 'headers.x-note'],
      [{ headers: { 'x-\u0000': 'v' } }, 'headers name'],
      [{ headers: { 'x-cut': 'half \ud83d' } }, 'headers.x-cut'],
      [{ key: 'O\u00002' }, 'key'],
      [{ type: 'order\u0000paid' }, 'type'],
      [{ key: `O-${'€'.repeat(400)}` }, 'key'],
      [{ idempotencyKey: '€'.repeat(1_000) }, 'idempotencyKey'],
      [{ headers: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`h${i}`, 'v'])) }, 'headers'],
      [{ headers: { big: 'x'.repeat(20_000) } }, 'headers'],
    ];
    const refused: string[] = [];
    await db.knex.transaction(async (trx) => {
      await trx('producer_orders').insert({ id: 'O-2' });
      for (const [change, field] of hostile) {
        const error = await outbox.enqueue(trx, { topic: 'orders', key: 'O-2', payload: { n: 2 }, ...change }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, field).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).field, field).toBe(field);
        refused.push(field);
      }
      // A refused enqueue ran no SQL: the transaction is not aborted, and its work goes on.
      await trx('producer_orders').insert({ id: 'O-3' });
      await outbox.enqueue(trx, { topic: 'orders', key: 'O-2', payload: { n: 2 }, headers: { 'x-note': 'ok' } });
    });
    expect(refused).toHaveLength(hostile.length);
    expect((await db.knex('producer_orders').select('id').orderBy('id')).map((r: { id: string }) => r.id)).toEqual(['O-2', 'O-3']);
    expect((await rows()).map((r) => r.headers)).toEqual([{ 'x-note': 'ok' }]);
  });

  it('orders one key by commit order when producer transactions overlap', async () => {
    await db.knex.raw('truncate onceflow.outbox');
    let releaseFirst: () => void = () => undefined;
    const firstHoldsLock = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let firstEnqueued: () => void = () => undefined;
    const enqueued = new Promise<void>((resolve) => {
      firstEnqueued = resolve;
    });
    // T1 enqueues first but commits last; T2 must wait for it, so T2's row follows T1's.
    const t1 = db.knex.transaction(async (trx) => {
      await outbox.enqueue(trx, { topic: 'orders', key: 'K', payload: 't1' });
      firstEnqueued();
      await firstHoldsLock;
    });
    await enqueued;
    let t2Done = false;
    const t2 = db.knex.transaction(async (trx) => {
      await outbox.enqueue(trx, { topic: 'orders', key: 'K', payload: 't2' });
      t2Done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(t2Done).toBe(false);
    releaseFirst();
    await Promise.all([t1, t2]);
    expect((await rows()).map((r) => r.payload)).toEqual(['"t1"', '"t2"']);
  });
});

describe('waking relays', () => {
  async function listen(): Promise<{ payloads: string[]; close(): Promise<void> }> {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const payloads: string[] = [];
    client.on('notification', (n) => payloads.push(n.payload ?? ''));
    await client.query('listen "onceflow_onceflow"');
    return { payloads, close: () => client.end() };
  }
  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

  it('notifies the shards written once the transaction has committed, and never for a rollback', async () => {
    const writer = new OutboxWriter({ knex: db.knex });
    const listener = await listen();
    try {
      await db.knex
        .transaction(async (trx) => {
          await writer.enqueue(trx, { topic: 'wake', key: 'rolled-back', payload: 1 });
          throw new Error('roll back');
        })
        .catch(() => undefined);
      await settle();
      expect(listener.payloads).toEqual([]);

      let seenBeforeCommit = -1;
      await db.knex.transaction(async (trx) => {
        await writer.enqueue(trx, [
          { topic: 'wake', key: 'a', payload: 1 },
          { topic: 'wake', key: 'b', payload: 2 },
        ]);
        // A savepoint's release is not the commit: nothing may be sent before the outer commit.
        await trx.transaction((inner) => writer.enqueue(inner, { topic: 'wake', key: 'c', payload: 3 }));
        await settle();
        seenBeforeCommit = listener.payloads.length;
      });
      await settle();
      expect(seenBeforeCommit).toBe(0);
      const notified = new Set(listener.payloads.flatMap((p) => p.split(',').map(Number)));
      expect(notified).toEqual(new Set(['a', 'b', 'c'].map((key) => shardOf('wake', key))));
    } finally {
      await listener.close();
    }
  });

  it('sends no NOTIFY without a knex to send it from, and refuses a transaction as that knex', async () => {
    const listener = await listen();
    try {
      await db.knex.transaction((trx) => outbox.enqueue(trx, { topic: 'wake', key: 'quiet', payload: 1 }));
      await settle();
      expect(listener.payloads).toEqual([]);
    } finally {
      await listener.close();
    }
    await db.knex.transaction(async (trx) => {
      expect(() => new OutboxWriter({ knex: trx })).toThrow(OptionError);
    });
    expect(() => new OutboxWriter({ knex: 'postgres://x' as never })).toThrow(/knex/);
  });
});

describe('enqueue into a schema without Onceflow tables', () => {
  it('says which schema lacks them and how to fix it, with no SQL text', async () => {
    const writer = new OutboxWriter({ schema: 'no_onceflow_here' });
    const error = await db.knex
      .transaction((trx) => writer.enqueue(trx, { topic: 'orders.paid', key: 'ORD-1', payload: {} }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'SchemaVersionError', code: 'ONCEFLOW_SCHEMA_VERSION', found: null });
    expect((error as Error).message).toContain('"no_onceflow_here"');
    expect((error as Error).message).toContain('onceflow migrate');
    expect((error as Error).message).not.toMatch(/insert|select|relation/i);
  });
});
