import type { Tables } from '@onceflow/core';
import { HeaderNames, migrate, tablesForDialect } from '@onceflow/core';
import { KafkaPublisher } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import type { RelayEvents, RelayOptions } from '@onceflow/relay';
import { listDead, outboxStatus, pruneOutbox, Relay, requeueDead } from '@onceflow/relay';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';
import { FailingPublisher, firstCopiesByKey, readAll, waitFor } from './support/relay-helpers.ts';
import { countRows, keyLockRows, sqlAgo, sqlJsonLength, sqlLeaseStart, textOf } from './support/relay-sql.ts';

let db: TestDatabase;
let tables: Tables;
let outbox: OutboxWriter;
const kafka = testKafka('relay-test');
const running = new Set<Relay>();

beforeAll(async () => {
  db = await createTestDatabase(20);
  await migrate(db.knex, { schema: db.schema });
  tables = tablesForDialect(db.dialect, db.schema);
  outbox = new OutboxWriter({ schema: db.schema });
});
afterEach(async () => {
  await Promise.all([...running].map((r) => r.stop()));
  running.clear();
});
afterAll(async () => {
  await db?.drop();
});

const FAST = { pollIntervalMs: 100, leaseMs: 1_500, minBackoffMs: 50, maxBackoffMs: 400, retentionMs: 0 } as const;

async function startRelay(options: Partial<RelayOptions> = {}): Promise<Relay> {
  const relay = new Relay({ knex: db.knex, publisher: new KafkaPublisher(kafka), schema: db.schema, ...FAST, ...options });
  running.add(relay);
  await relay.start();
  return relay;
}

async function stopRelay(relay: Relay): Promise<void> {
  await relay.stop();
  running.delete(relay);
}

/** The outbox's `key` column, quoted where the dialect reserves the word. */
function keyColumn(): string {
  return db.dialect === 'mysql' ? '`key`' : 'key';
}

function count(where: string, bindings: unknown[] = []): Promise<number> {
  return countRows(db, tables.outbox, where, bindings);
}

async function newTopic(partitions = 3): Promise<string> {
  const topic = uniqueName('relay');
  await createTopic(kafka, topic, partitions);
  return topic;
}

function collect<K extends keyof RelayEvents & string>(relay: Relay, event: K): RelayEvents[K][] {
  const seen: RelayEvents[K][] = [];
  relay.events.on(event, (payload) => seen.push(payload));
  return seen;
}

describe('Relay', () => {
  it('publishes exactly the committed messages, per key in commit order, with Onceflow headers', async () => {
    const topic = await newTopic();
    const relay = await startRelay();
    const committed: string[] = [];
    for (let t = 0; t < 40; t++) {
      const rollback = t % 4 === 3;
      await db.knex
        .transaction(async (trx) => {
          const sent = await outbox.enqueue(
            trx,
            Array.from({ length: 5 }, (_, i) => ({
              topic,
              key: `k${(t + i) % 7}`,
              payload: { t, i, rollback },
              type: 'test.event',
              headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
            })),
          );
          if (rollback) throw new Error('roll back');
          committed.push(...sent.map((s) => s.id));
        })
        .catch((error: unknown) => {
          if (!rollback) throw error;
        });
    }
    await waitFor('all committed rows published', async () => (await count(`status <> 'published'`)) === 0);
    const records = await readAll(kafka, topic);
    const { byKey, repeats } = firstCopiesByKey(records);
    expect(repeats).toBe(0);
    expect(records.map((r) => r.headers[HeaderNames.id]).sort()).toEqual([...committed].sort());
    expect(records.some((r) => JSON.parse(r.value).rollback === true)).toBe(false);
    const ids = await db.rows<{ id: string; key: unknown }>(
      `select id, ${db.dialect === 'mysql' ? '`key`' : 'key'} from ${tables.outbox} order by seq`,
    );
    for (const [key, list] of byKey) {
      const expected = ids.filter((r) => textOf(r.key) === key).map((r) => r.id);
      expect(list.map((r) => r.headers[HeaderNames.id])).toEqual(expected);
    }
    const first = records[0];
    expect(first?.headers).toMatchObject({
      [HeaderNames.type]: 'test.event',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    expect(first?.headers[HeaderNames.idempotencyKey]).toBe(first?.headers[HeaderNames.id]);
    expect(relay.stats().published).toBe(committed.length);
    expect(relay.stats().shards).toHaveLength(32);
  });

  it('wakes on a producer commit well before the poll interval (NOTIFY; on MySQL the in-process wake-up)', async () => {
    const topic = await newTopic(1);
    const relay = await startRelay({ pollIntervalMs: 30_000 });
    const published = collect(relay, 'relay:batch:published');
    // Let the start-up batches (found by the first poll) pass.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    // The writer wakes relays once the transaction has committed: with a NOTIFY from this pool
    // on PostgreSQL, directly on MySQL (the relay runs in this process).
    const waking = new OutboxWriter({ knex: db.knex, schema: db.schema });
    await db.knex.transaction((trx) => waking.enqueue(trx, { topic, key: 'n', payload: 1 }));
    await waitFor('notified publish', () => published.length > 0, 10_000, 10);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('does not publish a delayed message before availableAt, and a delayed message holds back nothing', async () => {
    const topic = await newTopic(1);
    await startRelay();
    const availableAt = new Date(Date.now() + 3_000);
    const [delayed] = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, [
        { topic, key: 'd', payload: 'later', availableAt },
        { topic, key: 'd', payload: 'now' },
      ]),
    );
    await waitFor('undelayed message published', async () => (await count(`topic = ? and status = 'published'`, [topic])) === 1);
    expect(await count(`id = ? and status = 'pending'`, [delayed?.id])).toBe(1);
    await waitFor('delayed message published', async () => (await count(`id = ? and status = 'published'`, [delayed?.id])) === 1, 15_000);
    const records = await readAll(kafka, topic);
    expect(records.map((r) => r.value)).toEqual(['"now"', '"later"']);
    const delayedRecord = records[1] as { timestamp: number };
    expect(delayedRecord.timestamp).toBeGreaterThanOrEqual(availableAt.getTime());
  });

  it('parks a message that always fails after maxAttempts with its history; other keys flow; requeue publishes it', async () => {
    const topic = await newTopic();
    let poison = true;
    const publisher = new FailingPublisher(new KafkaPublisher(kafka), (r) => poison && r.key === 'poison');
    const relay = await startRelay({ publisher, maxAttempts: 3, minBackoffMs: 100, maxBackoffMs: 200 });
    const retries = collect(relay, 'relay:retry');
    const deaths = collect(relay, 'relay:dead');
    const sent = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, [
        { topic, key: 'poison', payload: 'p1' },
        { topic, key: 'poison', payload: 'p2' },
        ...Array.from({ length: 50 }, (_, i) => ({ topic, key: `ok${i % 10}`, payload: i })),
      ]),
    );
    const p1 = sent[0]?.id as string;
    const p2 = sent[1]?.id as string;
    await waitFor(
      'other keys published',
      async () => (await count(`topic = ? and ${keyColumn()} <> 'poison' and status = 'published'`, [topic])) === 50,
    );
    // While p1 retries, p2 (same key) waits behind it.
    expect(await count(`id = ? and status = 'pending'`, [p2])).toBe(1);
    // The relay reports a death once its mark has committed, so the row can read dead a moment
    // before the event: wait for both.
    await waitFor('poison message dead', async () => deaths.length > 0 && (await count(`id = ? and status = 'dead'`, [p1])) === 1, 20_000);
    expect(retries.filter((r) => r.scope === 'record' && r.id === p1).map((r) => r.attempt)).toEqual([1, 2]);
    expect(deaths.map((d) => [d.id, d.attempts])).toEqual([[p1, 3]]);

    const dead = await listDead(db.knex, { topic, schema: db.schema });
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ id: p1, key: 'poison', attempts: 3 });
    expect(dead[0]?.errors.map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(dead[0]?.errors[0]?.error).toContain('refuses key poison');
    expect(typeof dead[0]?.errors[0]?.at).toBe('string');
    const status = await outboxStatus(db.knex, { schema: db.schema });
    expect(status.find((s) => s.topic === topic)).toMatchObject({ dead: 1 });

    // onDead 'skip': p2 is released and published (it may also fail; it has its own budget).
    poison = false;
    await waitFor('p2 published after p1 died', async () => (await count(`id = ? and status = 'published'`, [p2])) === 1);
    expect(await requeueDead(db.knex, { topic }, { schema: db.schema })).toEqual([p1]);
    await waitFor('requeued message published', async () => (await count(`id = ? and status = 'published'`, [p1])) === 1);
    const [after] = await db.rows<{ attempts: number; n: number }>(
      `select attempts, ${sqlJsonLength(db, 'errors')} as n from ${tables.outbox} where id = ?`,
      [p1],
    );
    expect({ attempts: Number(after?.attempts), n: Number(after?.n) }).toEqual({ attempts: 0, n: 3 });
    const values = (await readAll(kafka, topic)).filter((r) => r.key === 'poison').map((r) => r.value);
    expect(values).toEqual(['"p2"', '"p1"']);
  });

  it("with onDead 'block' a dead message holds back its key until requeued", async () => {
    const topic = await newTopic(1);
    let poison = true;
    const publisher = new FailingPublisher(new KafkaPublisher(kafka), (r) => poison && r.value.toString() === '"b1"');
    await startRelay({ publisher, maxAttempts: 2, onDead: 'block', minBackoffMs: 50, maxBackoffMs: 100 });
    const sent = await db.knex.transaction((trx) =>
      outbox.enqueue(trx, [
        { topic, key: 'b', payload: 'b1' },
        { topic, key: 'b', payload: 'b2' },
        { topic, key: 'other', payload: 'o1' },
      ]),
    );
    await waitFor('b1 dead', async () => (await count(`id = ? and status = 'dead'`, [sent[0]?.id])) === 1, 20_000);
    await waitFor('other key published', async () => (await count(`id = ? and status = 'published'`, [sent[2]?.id])) === 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await count(`id = ? and status = 'pending'`, [sent[1]?.id])).toBe(1);
    poison = false;
    expect(await requeueDead(db.knex, [sent[0]?.id as string], { schema: db.schema })).toHaveLength(1);
    await waitFor('key drained in order', async () => (await count(`topic = ? and status = 'published'`, [topic])) === 3);
    expect((await readAll(kafka, topic)).filter((r) => r.key === 'b').map((r) => r.value)).toEqual(['"b1"', '"b2"']);
  });

  it('parks a record the broker refuses as too large at once (non-retriable)', async () => {
    const topic = await newTopic(1);
    const relay = await startRelay({ maxAttempts: 5 });
    const deaths = collect(relay, 'relay:dead');
    const big = new OutboxWriter({ maxPayloadBytes: 3_000_000, schema: db.schema });
    const [huge] = await db.knex.transaction((trx) =>
      big.enqueue(trx, [
        { topic, key: 'big', payload: Buffer.alloc(2_000_000, 1) },
        { topic, key: 'small', payload: 'fine' },
      ]),
    );
    await waitFor(
      'huge message dead',
      async () => deaths.length > 0 && (await count(`id = ? and status = 'dead'`, [huge?.id])) === 1,
      30_000,
    );
    await waitFor('small one published', async () => (await count(`topic = ? and status = 'published'`, [topic])) === 1);
    expect(deaths[0]).toMatchObject({ id: huge?.id, attempts: 1 });
    const [dead] = await listDead(db.knex, { topic, schema: db.schema });
    expect(dead?.errors[0]?.error).toMatch(/MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE|too large/i);
  });

  it('hands shards over when a relay joins and when it leaves', async () => {
    const a = await startRelay({ relayId: 'relay-a' });
    const lostA = collect(a, 'relay:lease:lost');
    expect(a.stats().shards).toHaveLength(32);
    const b = await startRelay({ relayId: 'relay-b' });
    await waitFor('even split', () => a.stats().shards.length === 16 && b.stats().shards.length === 16, 15_000);
    expect(lostA.every((l) => l.reason === 'released')).toBe(true);
    const owners = await db.rows<{ owner: string; n: number }>(
      `select owner, count(*) as n from ${tables.relayShards} group by owner order by owner`,
    );
    expect(owners.map((o) => ({ owner: o.owner, n: Number(o.n) }))).toEqual([
      { owner: 'relay-a', n: 16 },
      { owner: 'relay-b', n: 16 },
    ]);
    await stopRelay(b);
    expect(await db.rows(`select relay_id from ${tables.relays}`)).toEqual([{ relay_id: 'relay-a' }]);
    await waitFor('a takes everything back', () => a.stats().shards.length === 32, 15_000);
  });

  it('refuses writes of a relay whose lease was taken over (fencing)', async () => {
    const topic = await newTopic(1);
    const relay = await startRelay({ relayId: 'fenced' });
    const lost = collect(relay, 'relay:lease:lost');
    // Another relay claims every shard behind this one's back (as after a long pause).
    await db.knex.raw(
      `update ${tables.relayShards} set owner = 'thief', fencing_token = fencing_token + 1, lease_until = ${sqlAgo(db, -3_600_000)}`,
    );
    await db.knex.transaction((trx) => outbox.enqueue(trx, { topic, key: 'f', payload: 1 }));
    await waitFor('leases lost', () => relay.stats().shards.length === 0, 10_000);
    expect(lost.some((l) => l.reason === 'taken')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await count(`topic = ? and status = 'pending'`, [topic])).toBe(1);
    await db.knex.raw(`update ${tables.relayShards} set owner = null, lease_until = ${sqlLeaseStart(db)}`);
  });

  it('prunes published rows in bounded batches and keeps dead and pending rows', async () => {
    const topic = await newTopic(1);
    await db.knex.raw(`truncate table ${tables.outbox}`);
    await db.knex.transaction((trx) =>
      outbox.enqueue(
        trx,
        Array.from({ length: 25 }, (_, i) => ({ topic, key: `p${i}`, payload: i })),
      ),
    );
    // Age the rows: ids are uuid v7, whose first 48 bits are the creation time in milliseconds.
    await db.knex.raw(
      db.dialect === 'mysql'
        ? `update ${tables.outbox} set id = concat(
             (select concat(substr(h, 1, 8), '-', substr(h, 9, 4))
              from (select lower(lpad(hex(timestampdiff(microsecond, '1970-01-01', ${sqlAgo(db, 3 * 3_600_000)}) div 1000), 12, '0')) as h) t),
             substr(id, 14))`
        : `update ${tables.outbox} set id = (lpad(to_hex((extract(epoch from now() - interval '3 hours') * 1000)::bigint), 12, '0')
      || substr(replace(id::text, '-', ''), 13))::uuid`,
    );
    const key = keyColumn();
    await db.knex.raw(
      `update ${tables.outbox} set status = 'published', published_at = ${sqlAgo(db, 2 * 3_600_000)} where ${key} <> 'p0' and ${key} <> 'p1'`,
    );
    await db.knex.raw(`update ${tables.outbox} set status = 'dead', dead_at = ${sqlAgo(db, 2 * 3_600_000)} where ${key} = 'p0'`);
    // Published 2 hours ago is kept by a 3-hour window.
    expect(await pruneOutbox(db.knex, { olderThanMs: 3 * 3_600_000, batchSize: 7, schema: db.schema })).toBe(0);
    expect(await pruneOutbox(db.knex, { olderThanMs: 3_600_000, batchSize: 7, schema: db.schema })).toBe(23);
    expect(await count('1 = 1')).toBe(2);
    expect(await count(`status = 'dead'`)).toBe(1);
    // MySQL: the producers' key-lock rows, held by no one now, are pruned too.
    expect(await keyLockRows(db)).toBe(0);
  });

  it('with deletePublished removes each row once Kafka acknowledged it, and loses nothing', async () => {
    const topic = await newTopic(2);
    await db.knex.raw(`truncate table ${tables.outbox}`);
    const sent = await db.knex.transaction((trx) =>
      outbox.enqueue(
        trx,
        Array.from({ length: 40 }, (_, i) => ({ topic, key: `d${i % 4}`, payload: { i } })),
      ),
    );
    const relay = await startRelay({ deletePublished: true });
    await waitFor('every row gone', async () => (await count('1 = 1')) === 0);
    await stopRelay(relay);
    const records = await readAll(kafka, topic);
    expect(new Set(records.map((r) => r.headers[HeaderNames.id]))).toEqual(new Set(sent.map((m) => m.id)));
  });
  it('uses every lane while a backlog fills batches and one lane once it is drained, keeping each key in order', async () => {
    const topic = await newTopic(3);
    await db.knex.raw(`truncate table ${tables.outbox}`);
    const order = new Map<string, string[]>();
    const enqueue = async (from: number, count: number) => {
      for (let start = from; start < from + count; start += 100) {
        const sent = await db.knex.transaction((trx) =>
          outbox.enqueue(
            trx,
            Array.from({ length: 100 }, (_, i) => ({ topic, key: `lane-${(start + i) % 20}`, payload: { n: start + i } })),
          ),
        );
        for (const m of sent) order.set(m.key, [...(order.get(m.key) ?? []), m.id]);
      }
    };
    await enqueue(0, 2_000);
    const relay = await startRelay({ batchSize: 50, concurrency: 3 });
    let most = 0;
    relay.events.on('relay:batch:published', () => {
      most = Math.max(most, relay.stats().activeLanes);
    });
    const changes = collect(relay, 'relay:lanes');
    await waitFor('the backlog published', async () => (await count(`status = 'pending'`)) === 0);
    expect(most).toBe(3);
    await waitFor('back to one lane', () => relay.stats().activeLanes === 1);
    expect(changes.map((c) => c.active)).toEqual([3, 1]);
    await enqueue(2_000, 200);
    await waitFor('the rest published', async () => (await count(`status = 'pending'`)) === 0);
    await stopRelay(relay);

    const { byKey } = firstCopiesByKey(await readAll(kafka, topic));
    expect(byKey.size).toBe(20);
    for (const [key, ids] of order) expect(byKey.get(key)?.map((r) => r.headers[HeaderNames.id])).toEqual(ids);
  });
});
