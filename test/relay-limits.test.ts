/**
 * The relay against values at the database's limits: an outbox key too long for an index entry
 * (PostgreSQL) or as long as the key column holds (MySQL) that fails to publish, and a schema
 * name of 63 characters, whose notification channel would not fit PostgreSQL's 63-byte names
 * (on MySQL a database name one short of the 64 characters allowed, on which the in-process
 * wake-ups meet).
 */
import type { OutgoingRecord, Publisher } from '@onceflow/core';
import { channelFor, dropSchema, migrate, onMysqlCommit, tablesForDialect } from '@onceflow/core';
import { OutboxWriter } from '@onceflow/producer';
import type { RelayEvents } from '@onceflow/relay';
import { listDead, Relay, requeueDead } from '@onceflow/relay';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { FailingPublisher, waitFor } from './support/relay-helpers.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(10);
  await migrate(db.knex, { schema: db.schema });
});
afterAll(async () => {
  await db?.drop();
});

/** Keeps what it is given instead of sending it to a broker. */
class MemoryPublisher implements Publisher {
  readonly sent: OutgoingRecord[] = [];
  async connect(): Promise<void> {}
  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    this.sent.push(...records);
  }
  async disconnect(): Promise<void> {}
}

const FAST = { pollIntervalMs: 100, leaseMs: 1_500, minBackoffMs: 50, maxBackoffMs: 200, retentionMs: 0 } as const;

/** `count` random CJK characters (3 UTF-8 bytes each), which compress poorly in an index entry. */
function cjk(count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += String.fromCharCode(0x4e00 + Math.floor(Math.random() * 0x5000));
  return out;
}

async function status(schema: string, id: string): Promise<{ status: string; attempts: number }> {
  const [row] = await db.rows<{ status: string; attempts: number }>(
    `select status, attempts from ${tablesForDialect(db.dialect, schema).outbox} where id = ?`,
    [id],
  );
  return { status: String(row?.status), attempts: Number(row?.attempts) };
}

describe('an outbox key too long for an index entry', () => {
  it('is held while it retries and goes dead after its attempts; the next message of its key follows', async () => {
    const topic = uniqueName('long_key');
    const sent = await db.knex.transaction((trx) =>
      new OutboxWriter({ schema: db.schema }).enqueue(trx, [
        { topic, key: 'k', payload: 'p1' },
        { topic, key: 'k', payload: 'p2' },
      ]),
    );
    const [p1, p2] = sent.map((m) => m.id) as [string, string];
    // PostgreSQL: rows written before keys were limited in bytes, or by another writer; 4,500
    // bytes, more than an index entry holds. MySQL: 1,023 bytes, as long as the VARBINARY(1024)
    // key column holds, which the held-key index takes whole.
    const longKey = cjk(db.dialect === 'mysql' ? 341 : 1_500);
    const keyColumn = db.dialect === 'mysql' ? '`key`' : 'key';
    await db.knex.raw(`update ${tablesForDialect(db.dialect, db.schema).outbox} set ${keyColumn} = ? where topic = ?`, [longKey, topic]);
    const memory = new MemoryPublisher();
    const publisher = new FailingPublisher(memory, (r) => r.key === longKey && r.value.toString() === '"p1"');
    const relay = new Relay({ knex: db.knex, publisher, schema: db.schema, ...FAST, maxAttempts: 3 });
    const errors: RelayEvents['relay:error'][] = [];
    relay.events.on('relay:error', (e) => errors.push(e));
    await relay.start();
    try {
      await waitFor('p1 failed once', async () => (await status(db.schema, p1)).attempts >= 1);
      // While p1 waits for its retry it holds its key: p2 stays back.
      expect(await status(db.schema, p2)).toMatchObject({ status: 'pending', attempts: 0 });
      await waitFor('p1 dead', async () => (await status(db.schema, p1)).status === 'dead', 30_000);
      expect(await status(db.schema, p1)).toEqual({ status: 'dead', attempts: 3 });
      await waitFor('p2 published', async () => (await status(db.schema, p2)).status === 'published');
      expect(memory.sent.map((r) => [r.key === longKey, r.value.toString()])).toEqual([[true, '"p2"']]);
      const dead = await listDead(db.knex, { topic, schema: db.schema });
      expect(dead.map((d) => d.id)).toEqual([p1]);
      expect(errors.map((e) => String((e.error as { code?: string }).code))).not.toContain('54000');
    } finally {
      await relay.stop();
    }
  });
});

/**
 * Hears the wake-ups of `schema`: NOTIFYs on its channel (PostgreSQL) or the in-process
 * wake-ups of MySQL; `payloads` collects one entry per wake-up.
 */
async function hearWakeUps(schema: string): Promise<{ payloads: string[]; end(): Promise<void> }> {
  const payloads: string[] = [];
  if (db.dialect === 'mysql') {
    const off = onMysqlCommit(schema, (shards) => payloads.push(shards.join(',')));
    return { payloads, end: async () => off() };
  }
  const channel = channelFor(schema);
  expect(channel.length).toBeLessThanOrEqual(63);
  const listener = new pg.Client({ connectionString: db.url });
  listener.on('notification', (n) => {
    if (n.channel === channel) payloads.push(n.payload ?? '');
  });
  await listener.connect();
  await listener.query(`listen "${channel}"`);
  return { payloads, end: () => listener.end() };
}

describe('a schema name of 63 characters', () => {
  it('gets a channel PostgreSQL keeps whole (MySQL: a database name), on which producers, requeueDead and the relay meet', async () => {
    const schema = `${uniqueName('s')}_${'x'.repeat(63)}`.slice(0, 63);
    expect(schema).toHaveLength(63);
    await migrate(db.knex, { schema });
    const wakeUps = await hearWakeUps(schema);
    const { payloads } = wakeUps;
    const memory = new MemoryPublisher();
    const relay = new Relay({ knex: db.knex, publisher: memory, schema, ...FAST });
    try {
      const topic = uniqueName('long_schema');
      const writer = new OutboxWriter({ schema, knex: db.knex });
      const first = await db.knex.transaction((trx) => writer.enqueue(trx, { topic, key: 'k', payload: 1 }));
      await waitFor('the producer notification', () => payloads.length === 1);

      await db.knex.raw(
        `update ${tablesForDialect(db.dialect, schema).outbox} set status = 'dead', dead_at = ${db.dialect === 'mysql' ? 'utc_timestamp(6)' : 'now()'} where id = ?`,
        [first.id],
      );
      expect(await requeueDead(db.knex, [first.id], { schema })).toEqual([first.id]);
      await waitFor('the requeue notification', () => payloads.length === 2);

      await relay.start();
      await waitFor('published by the relay on that schema', async () => (await status(schema, first.id)).status === 'published');
      expect(memory.sent.map((r) => r.topic)).toEqual([topic]);
    } finally {
      await relay.stop();
      await wakeUps.end();
      // On MySQL the schema is a database of its own beside the test's.
      if (db.dialect === 'mysql') await dropSchema(db.knex, schema);
    }
  });
});
