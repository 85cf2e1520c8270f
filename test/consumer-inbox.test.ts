import type { ConsumedMessage, LeaseStore } from '@onceflow/consumer';
import {
  consumerStatus,
  Inbox,
  LeaseStoreError,
  MysqlLeaseStore,
  PostgresLeaseStore,
  pruneInbox,
  RedisLeaseStore,
  SideEffectInbox,
  toConsumedMessage,
} from '@onceflow/consumer';
import { HeaderNames, migrate } from '@onceflow/core';
import { OutboxWriter } from '@onceflow/producer';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEffects, waitFor } from './support/consumer-helpers.ts';
import { countRows, daysAgo, lockWaits, onceflowTable, swallowFailure } from './support/consumer-matrix.ts';
import type { TestDatabase } from './support/database.ts';
import { connect, createTestDatabase, uniqueName } from './support/database.ts';
import { connectMariadb } from './support/mariadb.ts';
import { sqlNow } from './support/relay-sql.ts';

let db: TestDatabase;
let redis: Redis;
let offset = 0;

function message(key: string, idempotencyKey: string, payload: unknown = { key }): ConsumedMessage<{ key: string }> {
  return toConsumedMessage({
    topic: 'orders',
    partition: 0,
    offset: String(offset++),
    key,
    value: Buffer.from(JSON.stringify(payload)),
    headers: { [HeaderNames.id]: `id-${idempotencyKey}`, [HeaderNames.idempotencyKey]: idempotencyKey },
    timestamp: String(Date.now()),
  }) as ConsumedMessage<{ key: string }>;
}

async function count(sql: string, bindings: unknown[] = []): Promise<number> {
  return countRows(db, sql, bindings);
}

/** Onceflow's `table`, quoted for the database under test. */
function t(table: string): string {
  return onceflowTable(db, table);
}

beforeAll(async () => {
  db = await createTestDatabase();
  await migrate(db.knex, { schema: db.schema });
  await createEffects(db.knex);
  redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: false });
});
afterAll(async () => {
  redis?.disconnect();
  await db?.drop();
});

describe('Inbox (transactional mode)', () => {
  it('commits the handler writes with the inbox row, skips a copy, and keeps nothing of a failed attempt', async () => {
    const inbox = new Inbox({ knex: db.knex, schema: db.schema, consumerName: uniqueName('c') });
    const write = async (m: ConsumedMessage<{ key: string }>, trx: import('knex').Knex.Transaction) => {
      await trx('effects').insert({ key: m.payload.key, seq: 1, dedup_key: m.idempotencyKey });
    };
    const m = message('A', uniqueName('pay'));
    await expect(
      inbox.handle(m, async (msg, trx) => {
        await write(msg, trx);
        throw new Error('handler failed after writing');
      }),
    ).rejects.toThrow('handler failed after writing');
    expect(await count('select count(*) n from effects where dedup_key = ?', [m.idempotencyKey])).toBe(0);
    expect(await inbox.handle(m, write)).toBe('handled');
    expect(await inbox.handle(message('A', m.idempotencyKey as string), write)).toBe('duplicate');
    expect(await count('select count(*) n from effects where dedup_key = ?', [m.idempotencyKey])).toBe(1);
    // Another consumer name has its own inbox entries.
    expect(await new Inbox({ knex: db.knex, schema: db.schema, consumerName: uniqueName('other') }).handle(m, async () => undefined)).toBe(
      'handled',
    );
  });

  it('refuses to count as handled a message whose handler swallowed a failed statement (the transaction was rolled back)', async () => {
    const consumerName = uniqueName('c');
    const inbox = new Inbox({ knex: db.knex, schema: db.schema, consumerName });
    const m = message('A', uniqueName('pay'));
    const swallowing = async (msg: ConsumedMessage<{ key: string }>, trx: import('knex').Knex.Transaction) => {
      await trx('effects').insert({ key: msg.payload.key, seq: 1, dedup_key: msg.idempotencyKey });
      // A failed statement whose error the handler catches: the transaction can no longer commit.
      await swallowFailure(db, trx);
    };
    await expect(inbox.handle(m, swallowing)).rejects.toThrow(
      db.dialect === 'mysql' ? /handler went on: InnoDB rolled/ : /handler went on.*25P02/,
    );
    expect(await count('select count(*) n from effects where dedup_key = ?', [m.idempotencyKey])).toBe(0);
    expect(await count(`select count(*) n from ${t('inbox')} where consumer = ?`, [consumerName])).toBe(0);
    // The same message with a handler that lets nothing fail is handled once.
    expect(
      await inbox.handle(m, async (msg, trx) => trx('effects').insert({ key: msg.payload.key, seq: 1, dedup_key: msg.idempotencyKey })),
    ).toBe('handled');
    expect(await count('select count(*) n from effects where dedup_key = ?', [m.idempotencyKey])).toBe(1);
  });

  it('lets a handler enqueue outbox messages in its transaction (consume -> produce), once', async () => {
    const inbox = new Inbox({ knex: db.knex, schema: db.schema, consumerName: uniqueName('c') });
    const outbox = new OutboxWriter({ schema: db.schema });
    const topic = uniqueName('rewards');
    const handler = async (m: ConsumedMessage<{ key: string }>, trx: import('knex').Knex.Transaction) => {
      await outbox.enqueue(trx, { topic, key: m.payload.key, payload: { reward: 5 }, idempotencyKey: `reward:${m.idempotencyKey}` });
    };
    const m = message('B', uniqueName('pay'));
    expect(await inbox.handle(m, handler)).toBe('handled');
    expect(await inbox.handle(m, handler)).toBe('duplicate');
    await expect(
      inbox.handle(message('C', uniqueName('pay')), async (msg, trx) => {
        await handler(msg, trx);
        throw new Error('after enqueue');
      }),
    ).rejects.toThrow('after enqueue');
    expect(await count(`select count(*) n from ${t('outbox')} where topic = ?`, [topic])).toBe(1);
  });

  it('makes a copy arriving while the first is in flight wait on the unique index, then skip it', async () => {
    const name = uniqueName('c');
    const first = new Inbox({ knex: db.knex, schema: db.schema, consumerName: name });
    const second = new Inbox({ knex: db.knex, schema: db.schema, consumerName: name });
    const key = uniqueName('pay');
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered = false;
    const calls: string[] = [];
    const one = first.handle(message('D', key), async (_m, trx) => {
      calls.push('first');
      entered = true;
      await trx('effects').insert({ key: 'D', seq: 1, dedup_key: key });
      await held;
    });
    await waitFor('the first handler', () => entered);
    let secondDone = false;
    const two = second
      .handle(message('D', key), async () => {
        calls.push('second');
      })
      .finally(() => {
        secondDone = true;
      });
    // The second copy's insert must be waiting on the first copy's row lock.
    await waitFor('the second copy to block on the index', async () => {
      return (await lockWaits(db, 'insert into', 'inbox')) === 1;
    });
    expect(secondDone).toBe(false);
    release();
    expect(await one).toBe('handled');
    expect(await two).toBe('duplicate');
    expect(calls).toEqual(['first']);
    expect(await count('select count(*) n from effects where dedup_key = ?', [key])).toBe(1);
  });

  it('batch mode hands only the new messages to the batch handler, in order', async () => {
    const inbox = new Inbox({ knex: db.knex, schema: db.schema, consumerName: uniqueName('c') });
    const keys = Array.from({ length: 5 }, () => uniqueName('k'));
    await inbox.handle(message('E', keys[1] as string), async () => undefined);
    const batch = [0, 1, 2, 2, 3, 4].map((i) => message('E', keys[i] as string, { key: `E${i}` }));
    const seen: string[] = [];
    const result = await inbox.handleBatch(
      batch,
      batch.map((m) => m.idempotencyKey as string),
      async (messages) => {
        seen.push(...messages.map((m) => (m.payload as { key: string }).key));
      },
    );
    expect(seen).toEqual(['E0', 'E2', 'E3', 'E4']);
    expect(result.outcomes).toEqual(['handled', 'duplicate', 'handled', 'duplicate', 'handled', 'handled']);
  });
});

describe('rows without a topic scope', () => {
  it('count as done for a topic-scoped copy of the same or an unknown topic, not for another topic', async () => {
    const consumerName = uniqueName('c');
    const [sameTopic, unknownTopic, otherTopic] = [uniqueName('k'), uniqueName('k'), uniqueName('k')];
    // Rows as written before dedup included the topic (or under dedupScope 'consumer').
    await db.knex
      .withSchema(db.schema)
      .table('inbox')
      .insert([
        { consumer: consumerName, dedup_key: sameTopic, topic: 'orders', status: 'done' },
        { consumer: consumerName, dedup_key: unknownTopic, topic: null, status: 'done' },
        { consumer: consumerName, dedup_key: otherTopic, topic: 'refunds', status: 'done' },
      ]);
    const inbox = new Inbox({ knex: db.knex, schema: db.schema, consumerName });
    const batch = [message('S', sameTopic), message('S', unknownTopic), message('S', otherTopic)];
    const seen: string[] = [];
    const result = await inbox.handleBatch(
      batch,
      batch.map((m) => m.idempotencyKey as string),
      async (messages) => {
        seen.push(...messages.map((m) => m.idempotencyKey as string));
      },
    );
    expect(result.outcomes).toEqual(['duplicate', 'duplicate', 'handled']);
    expect(seen).toEqual([otherTopic]);
    expect(await count(`select count(*) n from ${t('inbox')} where consumer = ? and scope = 'orders'`, [consumerName])).toBe(1);
  });
});

describe('keys at the limits', () => {
  it('stores 4-byte UTF-8 in the consumer name and dedup key up to their limits, and refuses bad names by option', async () => {
    // 200 UTF-16 units (the option's limit) of 3- and 4-byte characters, and 1,024 bytes of key.
    const consumerName = `${'\u{1F389}'.repeat(10)}${'\u4E2D'.repeat(167)}${uniqueName('')}`;
    const inbox = new Inbox({ knex: db.knex, schema: db.schema, consumerName });
    const key = '\u{1F600}'.repeat(256);
    const other = `${'\u{1F600}'.repeat(255)}\u{1F601}`;
    const batch = [message('L', key), message('L', other), message('L', key)];
    const first = await inbox.handleBatch(
      batch,
      batch.map((m) => m.idempotencyKey as string),
      async () => undefined,
    );
    expect(first.outcomes).toEqual(['handled', 'handled', 'duplicate']);
    expect(await inbox.handle(message('L', other), async () => undefined)).toBe('duplicate');
    expect(await count(`select count(*) n from ${t('inbox')} where consumer = ?`, [consumerName])).toBe(2);
    const status = (await consumerStatus(db.knex, { schema: db.schema })).find((s) => s.consumer === consumerName);
    expect(status).toMatchObject({ inboxRows: 2, processing: 0, deadLetters: 0 });
    expect(() => inbox.dedupKeyOf(message('L', `${key}x`))).toThrow(/1025 UTF-8 bytes.*at most 1024 bytes/);
    for (const bad of ['nul\u0000name', 'lone\ud800surrogate']) {
      expect(() => new Inbox({ knex: db.knex, schema: db.schema, consumerName: bad })).toThrow(
        expect.objectContaining({ option: 'consumerName' }),
      );
    }
  });
});

describe('Redis fast path', () => {
  it('answers "already done" from Redis, and falls through to the database when Redis is down', async () => {
    const name = uniqueName('c');
    const fast = new Inbox({ knex: db.knex, schema: db.schema, consumerName: name, redis });
    const m = message('F', uniqueName('pay'));
    expect(await fast.handle(m, async () => undefined)).toBe('handled');
    await waitFor('the fast path entry', async () => (await redis.keys(`onceflow:inbox:${db.schema}:${name}:*`)).length === 1);
    const again = await fast.handleGroup([m], [m.idempotencyKey as string], async () => undefined);
    expect(again.outcomes).toEqual(['duplicate']);
    expect([...again.fastPathHits]).toEqual([0]);

    const down = new Redis({ host: '127.0.0.1', port: 6390, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    down.on('error', () => undefined);
    try {
      const outage = new Inbox({ knex: db.knex, schema: db.schema, consumerName: name, redis: down, fastPathTimeoutMs: 100 });
      const fromDb = await outage.handleGroup([m], [m.idempotencyKey as string], async () => undefined);
      expect(fromDb.outcomes).toEqual(['duplicate']);
      expect(fromDb.fastPathHits.size).toBe(0);
      let ran = 0;
      expect(
        await outage.handle(message('F', uniqueName('pay')), async () => {
          ran++;
        }),
      ).toBe('handled');
      expect(ran).toBe(1);
    } finally {
      down.disconnect();
    }
  });
});

const stores: Array<[string, () => LeaseStore]> = [
  [
    'database',
    () =>
      db.dialect === 'mysql'
        ? new MysqlLeaseStore({ knex: db.knex, schema: db.schema })
        : new PostgresLeaseStore({ knex: db.knex, schema: db.schema }),
  ],
  ['Redis', () => new RedisLeaseStore({ redis, prefix: `${uniqueName('fx')}:` })],
];

describe.each(stores)('side-effect mode, %s store', (_name, makeStore) => {
  it("lets another consumer take over an expired lease and refuses the old holder's late done", async () => {
    const store = makeStore();
    const consumerName = uniqueName('mailer');
    const a = new SideEffectInbox({ store, consumerName, leaseMs: 300 });
    const b = new SideEffectInbox({ store, consumerName, leaseMs: 5_000 });
    const m = message('G', uniqueName('mail'));
    // The external system keeps the highest fencing token it saw and refuses older writers.
    let highest = 0;
    const accepted: number[] = [];
    const refused: number[] = [];
    const external = (token: number) => {
      if (token < highest) refused.push(token);
      else {
        highest = token;
        accepted.push(token);
      }
    };
    let slowEntered = false;
    let finishSlow: () => void = () => undefined;
    const slowMayFinish = new Promise<void>((resolve) => {
      finishSlow = resolve;
    });
    const slow = a.run(m, async (_msg, lease) => {
      slowEntered = true;
      await slowMayFinish;
      external(lease.fencingToken);
    });
    await waitFor('the slow handler', () => slowEntered);
    // While the lease is live, a copy is told to come back later and does not run.
    let ranWhileBusy = false;
    expect(
      await b.run(m, async () => {
        ranWhileBusy = true;
      }),
    ).toBe('busy');
    expect(ranWhileBusy).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await b.run(m, async (_msg, lease) => external(lease.fencingToken))).toBe('handled');
    finishSlow();
    expect(await slow).toBe('fenced');
    expect(accepted).toEqual([2]);
    expect(refused).toEqual([1]);
    expect(await b.run(m, async () => external(99))).toBe('duplicate');
    expect(accepted).toEqual([2]);
  });

  it('releases the lease when the handler fails, so a retry runs at once with a higher token', async () => {
    const inbox = new SideEffectInbox({ store: makeStore(), consumerName: uniqueName('mailer'), leaseMs: 60_000 });
    const m = message('H', uniqueName('mail'));
    const tokens: number[] = [];
    await expect(
      inbox.run(m, async (_msg, lease) => {
        tokens.push(lease.fencingToken);
        throw new Error('smtp down');
      }),
    ).rejects.toThrow('smtp down');
    expect(
      await inbox.run(m, async (_msg, lease) => {
        tokens.push(lease.fencingToken);
        expect(await lease.extend(1_000)).toBe(true);
      }),
    ).toBe('handled');
    expect(tokens).toEqual([1, 2]);
  });
});

describe('side-effect stores fail closed', () => {
  it('never runs the handler when the store is unreachable', async () => {
    const down = new Redis({ host: '127.0.0.1', port: 6390, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    down.on('error', () => undefined);
    const noDb =
      db.dialect === 'mysql'
        ? connectMariadb('onceflow_does_not_exist', 1)
        : connect('postgres://postgres@127.0.0.1:5432/onceflow_does_not_exist', 1);
    try {
      for (const store of [new RedisLeaseStore({ redis: down }), new PostgresLeaseStore({ knex: noDb })]) {
        let ran = false;
        const inbox = new SideEffectInbox({ store, consumerName: 'x' });
        await expect(
          inbox.run(message('I', 'k'), async () => {
            ran = true;
          }),
        ).rejects.toBeInstanceOf(LeaseStoreError);
        expect(ran).toBe(false);
      }
    } finally {
      down.disconnect();
      await noDb.destroy();
    }
  });
});

describe('retention', () => {
  it('removes only done rows older than the window, in bounded batches', async () => {
    const name = uniqueName('old');
    const rows = (prefix: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ consumer: name, dedup_key: `${prefix}${i + 1}`, status: 'done' }));
    await db.knex.withSchema(db.schema).table('inbox').insert(rows('k', 25));
    await db.knex.raw(`update ${t('inbox')} set processed_at = ${daysAgo(db, 3)} where consumer = ?`, [name]);
    await db.knex.withSchema(db.schema).table('inbox').insert(rows('new', 5));
    await db.knex.raw(
      `insert into ${t('inbox')} (consumer, dedup_key, status, lease_until, processed_at) values (?, 'lease', 'processing', ${sqlNow(db)}, ${daysAgo(db, 3)})`,
      [name],
    );
    const day = 86_400_000;
    await expect(pruneInbox(db.knex, { schema: db.schema, retentionMs: day, redeliveryHorizonMs: 2 * day })).rejects.toThrow(
      /redeliveryHorizonMs/,
    );
    expect(
      await pruneInbox(db.knex, { schema: db.schema, consumerName: name, retentionMs: 2 * day, redeliveryHorizonMs: day, batchSize: 10 }),
    ).toBe(25);
    expect(await count(`select count(*) n from ${t('inbox')} where consumer = ?`, [name])).toBe(6);
    const status = (await consumerStatus(db.knex, { schema: db.schema })).find((s) => s.consumer === name);
    expect(status).toMatchObject({ inboxRows: 5, processing: 1, deadLetters: 0, oldestDeadLetterAt: null });
  });
});
