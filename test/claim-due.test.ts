import { migrate, SHARD_COUNT } from '@onceflow/core';
import { OutboxWriter } from '@onceflow/producer';
import { requeueDead } from '@onceflow/relay';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RelaySql } from '../packages/relay/src/relay-sql.ts';
import { relaySqlFor } from '../packages/relay/src/relay-sql.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase } from './support/database.ts';
import { sqlNow } from './support/relay-sql.ts';

let db: TestDatabase;
let sql: RelaySql;
let outbox: OutboxWriter;
const shards = Array.from({ length: SHARD_COUNT }, (_, i) => i);

beforeAll(async () => {
  db = await createTestDatabase(4);
  await migrate(db.knex, { schema: db.schema });
  sql = relaySqlFor(db.knex);
  outbox = new OutboxWriter({ schema: db.schema });
});
afterAll(async () => {
  await db?.drop();
});

describe('claimBatch and due rows', () => {
  it('takes a row requeued after the claim began, in its seq place, when its snapshot shows the requeue', async () => {
    const tables = sql.tables(db.schema);
    const [b1, b2] = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, [
        { topic: 'due', key: 'b', payload: 'b1' },
        { topic: 'due', key: 'b', payload: 'b2' },
      ]),
    );
    // b1 is dead and holds its key (onDead 'block'), as the relay leaves it.
    await db.knex.raw(`update ${tables.outbox} set status = 'dead', holds_key = true, dead_at = ${sqlNow(db)} where id = ?`, [
      b1?.id ?? '',
    ]);

    // The claim's transaction begins before the requeue (its clock reads earlier than the
    // requeue); its statement's snapshot is taken after the requeue.
    const claimed = await db.knex.transaction(async (trx) => {
      await trx.raw(`select ${sqlNow(db)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await requeueDead(db.knex, [b1?.id ?? ''], { schema: db.schema })).toHaveLength(1);
      return sql.claimBatch(trx as unknown as Knex, tables, shards, 10, undefined, true);
    });
    expect(claimed.map((r) => r.id)).toEqual([b1?.id, b2?.id]);
  });

  it('still leaves a row delayed on purpose until its time, and lets later rows of its key go first', async () => {
    const tables = sql.tables(db.schema);
    await db.knex.raw(`truncate table ${tables.outbox}`);
    const [, next] = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, [
        { topic: 'due', key: 'd', payload: 'd1', availableAt: new Date(Date.now() + 60_000) },
        { topic: 'due', key: 'd', payload: 'd2' },
      ]),
    );
    const claimed = await sql.claimBatch(db.knex, tables, shards, 10, undefined, true);
    expect(claimed.map((r) => r.id)).toEqual([next?.id]);
  });

  it('reads rows as the relay sends them: text keys, parsed headers, payload bytes and an ISO creation time in UTC', async () => {
    const tables = sql.tables(db.schema);
    await db.knex.raw(`truncate table ${tables.outbox}`);
    const before = Date.now();
    const [m] = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, [
        { topic: 'shape', key: 'ключ-🙂', payload: Buffer.from([0, 1, 255]), idempotencyKey: 'idem-é', type: 't', headers: { h: 'v' } },
      ]),
    );
    const [row] = await sql.claimBatch(db.knex, tables, shards, 10, undefined, false);
    expect(row).toMatchObject({ id: m?.id, topic: 'shape', key: 'ключ-🙂', idempotency_key: 'idem-é', type: 't', attempts: 0 });
    expect(row?.headers).toMatchObject({ h: 'v' });
    expect(row?.payload.equals(Buffer.from([0, 1, 255]))).toBe(true);
    expect(typeof row?.seq).toBe('string');
    expect(row?.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(row?.created_at ?? '') - before)).toBeLessThan(10_000);
  });

  it('skips exactly the rows still being marked, and rows behind a key-holding row', async () => {
    const tables = sql.tables(db.schema);
    await db.knex.raw(`truncate table ${tables.outbox}`);
    const sent = await db.knex.transaction((trx) =>
      outbox.enqueue(
        trx,
        ['a', 'a', 'b', 'c'].map((key, i) => ({ topic: 'skip', key, payload: i })),
      ),
    );
    const rows = await sql.claimBatch(db.knex, tables, shards, 10, undefined, false);
    expect(rows.map((r) => r.id)).toEqual(sent.map((s) => s.id));
    const first = rows[0];
    // The first row is in flight in its shard: only it is skipped.
    const sending = shards.map((s) => (s === first?.shard ? [first.seq] : []));
    expect((await sql.claimBatch(db.knex, tables, shards, 10, sending, false)).map((r) => r.id)).toEqual(sent.slice(1).map((s) => s.id));
    // The first row failed and holds its key: the second row of key "a" waits, b and c go.
    await db.knex.raw(`update ${tables.outbox} set holds_key = true where id = ?`, [first?.id ?? '']);
    expect((await sql.claimBatch(db.knex, tables, shards, 10, sending, true)).map((r) => r.id)).toEqual(sent.slice(2).map((s) => s.id));
  });
});
