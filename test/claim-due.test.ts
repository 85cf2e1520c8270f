import { migrate, SHARD_COUNT, tablesFor } from '@onceflow/core';
import { OutboxWriter } from '@onceflow/producer';
import { requeueDead } from '@onceflow/relay';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimBatch } from '../packages/relay/src/sql/claim-batch.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase } from './support/database.ts';

let db: TestDatabase;
const tables = tablesFor();
const shards = Array.from({ length: SHARD_COUNT }, (_, i) => i);

beforeAll(async () => {
  db = await createTestDatabase(4);
  await migrate(db.knex);
});
afterAll(async () => {
  await db?.drop();
});

describe('claimBatch and due rows', () => {
  it('takes a row requeued after the claim began, in its seq place, when its snapshot shows the requeue', async () => {
    const [b1, b2] = await db.knex.transaction((trx) =>
      new OutboxWriter().enqueue(trx, [
        { topic: 'due', key: 'b', payload: 'b1' },
        { topic: 'due', key: 'b', payload: 'b2' },
      ]),
    );
    // b1 is dead and holds its key (onDead 'block'), as the relay leaves it.
    await db.knex.raw(`update onceflow.outbox set status = 'dead', holds_key = true, dead_at = now() where id = ?`, [b1?.id ?? '']);

    // The claim's transaction begins before the requeue (its now() is earlier than the
    // requeued row's available_at); its statement's snapshot is taken after the requeue.
    const claimed = await db.knex.transaction(async (trx) => {
      await trx.raw('select now()');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await requeueDead(db.knex, [b1?.id ?? ''])).toHaveLength(1);
      return claimBatch(trx as unknown as Knex, tables, shards, 10);
    });
    expect(claimed.map((r) => r.id)).toEqual([b1?.id, b2?.id]);
  });

  it('still leaves a row delayed on purpose until its time, and lets later rows of its key go first', async () => {
    await db.knex.raw('truncate onceflow.outbox');
    const [, next] = await db.knex.transaction((trx) =>
      new OutboxWriter().enqueue(trx, [
        { topic: 'due', key: 'd', payload: 'd1', availableAt: new Date(Date.now() + 60_000) },
        { topic: 'due', key: 'd', payload: 'd2' },
      ]),
    );
    const claimed = await claimBatch(db.knex, tables, shards, 10);
    expect(claimed.map((r) => r.id)).toEqual([next?.id]);
  });
});
