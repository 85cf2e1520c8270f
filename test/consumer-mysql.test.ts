/**
 * What only MySQL and MariaDB do to the inbox: InnoDB's row locks as the arbiter between two
 * copies of a message, a deadlock rolling back the whole transaction under a handler that
 * catches it, and deadlocks and lock wait timeouts as retriable failures charged once. Always
 * on MariaDB (or the MySQL of MARIADB_URL), whatever ONCEFLOW_TEST_DB says.
 */
import type { ConsumedMessage, InboxConsumer } from '@onceflow/consumer';
import { GroupFailure, Inbox, MysqlLeaseStore, SideEffectInbox, toConsumedMessage } from '@onceflow/consumer';
import { HeaderNames, isRetriable, migrate, mysqlErrno, OnceflowError } from '@onceflow/core';
import type { Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedTotal, publish, startConsumer, waitFor } from './support/consumer-helpers.ts';
import { countRows, lockWaits, onceflowTable } from './support/consumer-matrix.ts';
import type { TestDatabase } from './support/database.ts';
import { connect, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';
import { connectMariadb, createMariadbDatabase } from './support/mariadb.ts';

let db: TestDatabase;
let offset = 0;

function message(key: string, idempotencyKey: string): ConsumedMessage {
  return toConsumedMessage({
    topic: 'orders',
    partition: 0,
    offset: String(offset++),
    key,
    value: Buffer.from('{}'),
    headers: { [HeaderNames.id]: `id-${idempotencyKey}`, [HeaderNames.idempotencyKey]: idempotencyKey },
    timestamp: String(Date.now()),
  });
}

function inbox(consumerName: string): Inbox {
  return new Inbox({ knex: db.knex, schema: db.schema, consumerName });
}

async function inboxRows(consumer: string): Promise<number> {
  return countRows(db, `select count(*) n from ${onceflowTable(db, 'inbox')} where consumer = ?`, [consumer]);
}

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/**
 * Runs `inTrx` (a statement of a handler's transaction that takes row `b` after the handler
 * locked row `a`) into a real deadlock with another transaction that locks `b`, then `a`. The
 * other transaction first writes many rows, so InnoDB, which rolls back the transaction that
 * changed less, picks the handler's as the victim. Returns the other transaction's outcome.
 */
async function deadlockAgainst(trx: Knex.Transaction, a: number, b: number): Promise<unknown> {
  await trx('locks')
    .where({ id: a })
    .update({ n: db.knex.raw('n + 1') });
  const other = await db.knex.transaction();
  await other('ballast').insert(Array.from({ length: 200 }, () => ({ pad: 'x'.repeat(100) })));
  await other('locks')
    .where({ id: b })
    .update({ n: db.knex.raw('n + 1') });
  const otherDone = other('locks')
    .where({ id: a })
    .update({ n: db.knex.raw('n + 1') })
    .then(() => other.commit());
  await waitFor('the other transaction to wait for row a', async () => (await lockWaits(db, 'update', 'locks')) === 1);
  try {
    await trx('locks')
      .where({ id: b })
      .update({ n: db.knex.raw('n + 1') });
    throw new Error('expected a deadlock');
  } finally {
    await otherDone;
  }
}

beforeAll(async () => {
  db = await createMariadbDatabase(20);
  await migrate(db.knex, { schema: db.schema });
  await db.knex.schema.createTable('locks', (t) => {
    t.integer('id').primary();
    t.integer('n').notNullable();
  });
  await db.knex('locks').insert(Array.from({ length: 20 }, (_, i) => ({ id: i, n: 0 })));
  await db.knex.schema.createTable('ballast', (t) => {
    t.increments('id');
    t.string('pad', 200);
  });
  await db.knex.schema.createTable('mysql_effects', (t) => {
    t.increments('id');
    t.string('dedup_key', 200).notNullable();
  });
});
afterAll(async () => {
  await db?.drop();
});

describe('the primary key as arbiter (MariaDB)', () => {
  it('makes a copy wait on the first copy’s uncommitted row: skipped when it commits, run when it rolls back', async () => {
    for (const firstCommits of [true, false]) {
      const name = uniqueName('c');
      const key = uniqueName('pay');
      const hold = gate();
      let firstEntered = false;
      const ran: string[] = [];
      const first = inbox(name)
        .handle(message('K', key), async (_m, trx) => {
          firstEntered = true;
          ran.push('first');
          await trx('mysql_effects').insert({ dedup_key: key });
          await hold.opened;
          if (!firstCommits) throw new Error('first copy fails');
        })
        .catch((error: unknown) => error);
      await waitFor('the first handler', () => firstEntered);
      let secondSettled = false;
      const second = inbox(name)
        .handle(message('K', key), async (_m, trx) => {
          ran.push('second');
          await trx('mysql_effects').insert({ dedup_key: key });
        })
        .finally(() => {
          secondSettled = true;
        });
      await waitFor('the second copy to wait on the row lock', async () => (await lockWaits(db, 'insert into', 'inbox')) === 1);
      expect(secondSettled).toBe(false);
      expect(ran).toEqual(['first']);
      hold.open();
      if (firstCommits) {
        expect(await first).toBe('handled');
        expect(await second).toBe('duplicate');
        expect(ran).toEqual(['first']);
      } else {
        expect(await first).toBeInstanceOf(Error);
        expect(await second).toBe('handled');
        expect(ran).toEqual(['first', 'second']);
      }
      expect(await countRows(db, 'select count(*) n from mysql_effects where dedup_key = ?', [key])).toBe(1);
      expect(await inboxRows(name)).toBe(1);
    }
  });

  it('batch mode: a concurrent batch over the same keys waits, then gets only the keys the first did not commit', async () => {
    const name = uniqueName('c');
    const keys = Array.from({ length: 4 }, () => uniqueName('k'));
    const hold = gate();
    let firstEntered = false;
    const firstBatch = [keys[0], keys[1]].map((k) => message('B', k as string));
    const first = inbox(name).handleBatch(
      firstBatch,
      firstBatch.map((m) => m.idempotencyKey as string),
      async () => {
        firstEntered = true;
        await hold.opened;
      },
    );
    await waitFor('the first batch', () => firstEntered);
    const secondBatch = [keys[3], keys[1], keys[2], keys[0]].map((k) => message('B', k as string));
    const seen: string[] = [];
    const second = inbox(name).handleBatch(
      secondBatch,
      secondBatch.map((m) => m.idempotencyKey as string),
      async (messages) => {
        seen.push(...messages.map((m) => m.idempotencyKey as string));
      },
    );
    await waitFor('the second batch to wait on the row locks', async () => (await lockWaits(db, 'insert into', 'inbox')) === 1);
    hold.open();
    expect((await first).outcomes).toEqual(['handled', 'handled']);
    expect((await second).outcomes).toEqual(['handled', 'duplicate', 'handled', 'duplicate']);
    expect(seen).toEqual([keys[3], keys[2]]);
    expect(await inboxRows(name)).toBe(4);
  });
});

describe('a transaction InnoDB rolled back under the handler (MariaDB)', () => {
  it('fails the message when the handler swallows a real deadlock, and keeps no inbox row', async () => {
    const name = uniqueName('c');
    const key = uniqueName('pay');
    let caught: unknown;
    const failure = await inbox(name)
      .handle(message('D', key), async (_m, trx) => {
        await trx('mysql_effects').insert({ dedup_key: `${key}:before` });
        try {
          await deadlockAgainst(trx, 1, 2);
        } catch (error) {
          caught = error;
        }
        // The handler goes on; after InnoDB's rollback this statement commits on its own.
        await trx('mysql_effects').insert({ dedup_key: `${key}:after` });
      })
      .catch((error: unknown) => error);
    expect(mysqlErrno(caught)).toBe(1213);
    expect(failure).toBeInstanceOf(OnceflowError);
    expect((failure as OnceflowError).message).toMatch(/InnoDB rolled the whole transaction back/);
    expect(isRetriable(failure)).toBe(true);
    expect(await inboxRows(name)).toBe(0);
    expect(await countRows(db, 'select count(*) n from mysql_effects where dedup_key = ?', [`${key}:before`])).toBe(0);
    // The retry, in a new transaction, records the message once.
    expect(await inbox(name).handle(message('D', key), async () => undefined)).toBe('handled');
    expect(await inboxRows(name)).toBe(1);
  });

  it('stops a group at the handler that swallowed the deadlock: the next handlers never write outside the transaction', async () => {
    const name = uniqueName('c');
    const batch = ['a', 'b', 'c'].map((k) => message(k, uniqueName(k)));
    const ran: string[] = [];
    const failure = await inbox(name)
      .handleGroup(
        batch,
        batch.map((m) => m.idempotencyKey as string),
        async (m, trx) => {
          ran.push(m.key as string);
          if (m.key === 'a') await deadlockAgainst(trx, 8, 9).catch(() => undefined);
          await trx('mysql_effects').insert({ dedup_key: m.idempotencyKey as string });
        },
      )
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GroupFailure);
    expect((failure as GroupFailure).index).toBe(0);
    expect((failure as GroupFailure).cause).toBeInstanceOf(OnceflowError);
    expect(ran).toEqual(['a']);
    const keys = batch.map((m) => m.idempotencyKey as string);
    // Only what the swallowing handler itself wrote after the rollback stayed.
    expect(await countRows(db, 'select count(*) n from mysql_effects where dedup_key in (?, ?, ?)', keys)).toBe(1);
    expect(await inboxRows(name)).toBe(0);
  });

  it('is not fooled by savepoints of the handler’s own: a nested transaction that fails and one that commits', async () => {
    const name = uniqueName('c');
    const key = uniqueName('pay');
    const outcome = await inbox(name).handle(message('N', key), async (_m, trx) => {
      await trx
        .transaction(async (nested) => {
          await nested('mysql_effects').insert({ dedup_key: `${key}:undone` });
          throw new Error('nested work fails');
        })
        .catch(() => undefined);
      await trx.transaction(async (nested) => {
        await nested('mysql_effects').insert({ dedup_key: key });
      });
    });
    expect(outcome).toBe('handled');
    expect(await inboxRows(name)).toBe(1);
    expect(await countRows(db, 'select count(*) n from mysql_effects where dedup_key in (?, ?)', [key, `${key}:undone`])).toBe(1);
  });

  it('lets a handler swallow a lock wait timeout: InnoDB rolled back only the statement, so the rest commits', async () => {
    const name = uniqueName('c');
    const key = uniqueName('pay');
    const other = await db.knex.transaction();
    await other('locks')
      .where({ id: 5 })
      .update({ n: db.knex.raw('n + 1') });
    let caught: unknown;
    try {
      const outcome = await inbox(name).handle(message('T', key), async (_m, trx) => {
        await trx.raw('set session innodb_lock_wait_timeout = 1');
        await trx('mysql_effects').insert({ dedup_key: key });
        try {
          await trx('locks')
            .where({ id: 5 })
            .update({ n: db.knex.raw('n + 1') });
        } catch (error) {
          caught = error;
        }
        await trx.raw('set session innodb_lock_wait_timeout = default');
      });
      expect(outcome).toBe('handled');
    } finally {
      await other.rollback();
    }
    expect(mysqlErrno(caught)).toBe(1205);
    expect(isRetriable(caught)).toBe(true);
    expect(await inboxRows(name)).toBe(1);
    expect(await countRows(db, 'select count(*) n from mysql_effects where dedup_key = ?', [key])).toBe(1);
  });
});

describe('side-effect mode on MySQL (MariaDB)', () => {
  it('keeps one record per message when the topic and a dedup key at its 1,024-byte limit exceed the column together', async () => {
    const store = new MysqlLeaseStore({ knex: db.knex, schema: db.schema });
    const effects = new SideEffectInbox({ store, consumerName: uniqueName('mailer') });
    const long = '\u{1F600}'.repeat(256);
    const tokens: number[] = [];
    expect(await effects.run(message('E', long), async (_m, lease) => void tokens.push(lease.fencingToken))).toBe('handled');
    expect(await effects.run(message('E', long), async (_m, lease) => void tokens.push(lease.fencingToken))).toBe('duplicate');
    const other = `${'\u{1F600}'.repeat(255)}\u{1F601}`;
    expect(await effects.run(message('E', other), async (_m, lease) => void tokens.push(lease.fencingToken))).toBe('handled');
    expect(tokens).toEqual([1, 1]);
    expect(() => new MysqlLeaseStore({ knex: connect('postgres://postgres@127.0.0.1:5432/postgres', 1) })).toThrow(
      expect.objectContaining({ option: 'knex' }),
    );
  });
});

describe('deadlocks are retriable and charged once (MariaDB)', () => {
  it('names the message whose handler met the deadlock, and the group failure is retriable', async () => {
    const name = uniqueName('c');
    const batch = ['a', 'b', 'c'].map((k) => message(k, uniqueName(k)));
    const failure = await inbox(name)
      .handleGroup(
        batch,
        batch.map((m) => m.idempotencyKey as string),
        async (m, trx) => {
          if (m.key === 'b') await deadlockAgainst(trx, 3, 4);
        },
      )
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GroupFailure);
    expect((failure as GroupFailure).index).toBe(1);
    expect(mysqlErrno((failure as GroupFailure).cause)).toBe(1213);
    expect(isRetriable(failure)).toBe(true);
    expect(await inboxRows(name)).toBe(0);
  });

  it('a consumer retries a message whose transaction deadlocked, once, and handles it', async () => {
    const kafka: Kafka = testKafka('consumer-mysql-test');
    const topic = uniqueName('deadlock');
    await createTopic(kafka, topic);
    const groupId = uniqueName('deadlock_group');
    const key = uniqueName('pay');
    let attempts = 0;
    const retries: number[] = [];
    let consumer: InboxConsumer | undefined;
    try {
      consumer = await startConsumer(kafka, groupId, [topic], {
        knex: db.knex,
        schema: db.schema,
        consumerName: uniqueName('deadlock'),
        maxMessagesPerTransaction: 1,
        retryMinDelayMs: 20,
        retryMaxDelayMs: 50,
        maxAttempts: 3,
        handler: async (m, trx) => {
          attempts++;
          if (attempts === 1) await deadlockAgainst(trx, 6, 7);
          await trx('mysql_effects').insert({ dedup_key: m.idempotencyKey as string });
        },
      });
      consumer.events.on('inbox:retry', (e) => retries.push(e.attempt));
      await publish(kafka, topic, [{ key: 'k', payload: {}, idempotencyKey: key }]);
      await waitFor('the offset committed', async () => (await committedTotal(kafka, groupId, topic)) === 1);
      expect(consumer.stats()).toMatchObject({ handled: 1, retried: 1, deadLettered: 0 });
      expect(retries).toEqual([1]);
      expect(attempts).toBe(2);
      expect(await countRows(db, 'select count(*) n from mysql_effects where dedup_key = ?', [key])).toBe(1);
    } finally {
      await consumer?.stop();
    }
  });
});

describe('a copy that waits on another copy’s inbox row past the lock wait timeout (MariaDB)', () => {
  it('keeps waiting without spending attempts, and runs once when the other copy rolls back', async () => {
    const kafka: Kafka = testKafka('consumer-mysql-wait-test');
    const topic = uniqueName('row_wait');
    await createTopic(kafka, topic);
    const groupId = uniqueName('row_wait_group');
    const consumerName = uniqueName('row_wait');
    const key = uniqueName('pay');
    // The consumer's own pool gives up a lock wait after 1 s, as DBAs often set it.
    const impatient = connectMariadb(db.name, 4, 'set session innodb_lock_wait_timeout = 1');
    const hold = gate();
    let firstEntered = false;
    const first = new Inbox({ knex: db.knex, schema: db.schema, consumerName })
      .handle(
        toConsumedMessage({
          topic,
          partition: 0,
          offset: '0',
          key: 'k',
          value: Buffer.from('{}'),
          headers: { [HeaderNames.id]: `id-${key}`, [HeaderNames.idempotencyKey]: key },
          timestamp: String(Date.now()),
        }),
        async () => {
          firstEntered = true;
          await hold.opened;
          throw new Error('the first copy rolls back');
        },
      )
      .catch((error: unknown) => error);
    await waitFor('the first copy', () => firstEntered);
    let consumer: InboxConsumer | undefined;
    try {
      consumer = await startConsumer(kafka, groupId, [topic], {
        knex: impatient,
        schema: db.schema,
        consumerName,
        maxAttempts: 2,
        handler: async (m, trx) => {
          await trx('mysql_effects').insert({ dedup_key: m.idempotencyKey as string });
        },
      });
      await publish(kafka, topic, [{ key: 'k', payload: {}, idempotencyKey: key }]);
      // Three lock wait timeouts and more: each one a wait, none an attempt.
      await waitFor('three waits', () => (consumer as InboxConsumer).stats().busy >= 3, 20_000);
      expect(consumer.stats()).toMatchObject({ handled: 0, retried: 0, deadLettered: 0 });
      hold.open();
      expect(await first).toBeInstanceOf(Error);
      await waitFor('the offset committed', async () => (await committedTotal(kafka, groupId, topic)) === 1);
      expect(consumer.stats()).toMatchObject({ handled: 1, retried: 0, deadLettered: 0 });
      expect(await countRows(db, 'select count(*) n from mysql_effects where dedup_key = ?', [key])).toBe(1);
      expect(await inboxRows(consumerName)).toBe(1);
    } finally {
      hold.open();
      await consumer?.stop();
      await impatient.destroy();
    }
  });
});
