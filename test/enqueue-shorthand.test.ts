import { migrate, shardOf } from '@onceflow/core';
import { DuplicateMessageError, enqueue } from '@onceflow/producer';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase } from './support/database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase(4);
  await migrate(db.knex);
});
afterAll(() => db?.drop());

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

describe('the enqueue shorthand', () => {
  it('applies each call its own options and wakes the relays only after a commit', async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const payloads: string[] = [];
    listener.on('notification', (n) => payloads.push(n.payload ?? ''));
    await listener.query('listen "onceflow_onceflow"');
    try {
      const message = { topic: 'short', key: 'k', payload: 1, idempotencyKey: 'once' };
      await db.knex.transaction(async (trx) => {
        await enqueue(trx, message, { knex: db.knex });
        await trx.rollback();
      });
      await settle();
      expect(payloads).toEqual([]);

      const [first] = await db.knex.transaction((trx) => enqueue(trx, [message], { knex: db.knex }));
      const again = await db.knex.transaction((trx) => enqueue(trx, message));
      expect(again).toMatchObject({ id: first?.id, duplicate: true });
      // The same call with other options is not served by a writer made for the first ones.
      await expect(db.knex.transaction((trx) => enqueue(trx, message, { onDuplicate: 'error' }))).rejects.toThrow(DuplicateMessageError);
      await settle();
      expect(payloads).toEqual([String(shardOf('short', 'k'))]);
    } finally {
      await listener.end();
    }
  });
});
