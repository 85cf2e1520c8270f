/**
 * The relay against values at PostgreSQL's limits: an outbox key too long for an index entry
 * that fails to publish, and a schema name of 63 characters whose notification channel would
 * not fit PostgreSQL's 63-byte names.
 */
import type { OutgoingRecord, Publisher } from '@onceflow/core';
import { channelFor, migrate } from '@onceflow/core';
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
  await migrate(db.knex);
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
  return (await db.knex.raw(`select status, attempts from "${schema}".outbox where id = ?`, [id])).rows[0];
}

describe('an outbox key too long for an index entry', () => {
  it('is held while it retries and goes dead after its attempts; the next message of its key follows', async () => {
    const topic = uniqueName('long_key');
    const sent = await db.knex.transaction((trx) =>
      new OutboxWriter().enqueue(trx, [
        { topic, key: 'k', payload: 'p1' },
        { topic, key: 'k', payload: 'p2' },
      ]),
    );
    const [p1, p2] = sent.map((m) => m.id) as [string, string];
    // Rows written before keys were limited in bytes, or by another writer.
    const longKey = cjk(1_500);
    await db.knex.raw('update onceflow.outbox set key = ? where topic = ?', [longKey, topic]);
    const memory = new MemoryPublisher();
    const publisher = new FailingPublisher(memory, (r) => r.key === longKey && r.value.toString() === '"p1"');
    const relay = new Relay({ knex: db.knex, publisher, ...FAST, maxAttempts: 3 });
    const errors: RelayEvents['relay:error'][] = [];
    relay.events.on('relay:error', (e) => errors.push(e));
    await relay.start();
    try {
      await waitFor('p1 failed once', async () => (await status('onceflow', p1)).attempts >= 1);
      // While p1 waits for its retry it holds its key: p2 stays back.
      expect(await status('onceflow', p2)).toMatchObject({ status: 'pending', attempts: 0 });
      await waitFor('p1 dead', async () => (await status('onceflow', p1)).status === 'dead', 30_000);
      expect(await status('onceflow', p1)).toEqual({ status: 'dead', attempts: 3 });
      await waitFor('p2 published', async () => (await status('onceflow', p2)).status === 'published');
      expect(memory.sent.map((r) => [r.key === longKey, r.value.toString()])).toEqual([[true, '"p2"']]);
      const dead = await listDead(db.knex, { topic });
      expect(dead.map((d) => d.id)).toEqual([p1]);
      expect(errors.map((e) => String((e.error as { code?: string }).code))).not.toContain('54000');
    } finally {
      await relay.stop();
    }
  });
});

describe('a schema name of 63 characters', () => {
  it('gets a channel PostgreSQL keeps whole, on which producers, requeueDead and the relay meet', async () => {
    const schema = `${uniqueName('s')}_${'x'.repeat(63)}`.slice(0, 63);
    expect(schema).toHaveLength(63);
    await migrate(db.knex, { schema });
    const channel = channelFor(schema);
    expect(channel.length).toBeLessThanOrEqual(63);

    const listener = new pg.Client({ connectionString: db.url });
    const payloads: string[] = [];
    listener.on('notification', (n) => {
      if (n.channel === channel) payloads.push(n.payload ?? '');
    });
    await listener.connect();
    const memory = new MemoryPublisher();
    const relay = new Relay({ knex: db.knex, publisher: memory, schema, ...FAST });
    try {
      await listener.query(`listen "${channel}"`);
      const topic = uniqueName('long_schema');
      const writer = new OutboxWriter({ schema, knex: db.knex });
      const first = await db.knex.transaction((trx) => writer.enqueue(trx, { topic, key: 'k', payload: 1 }));
      await waitFor('the producer notification', () => payloads.length === 1);

      await db.knex.raw(`update "${schema}".outbox set status = 'dead', dead_at = now() where id = ?`, [first.id]);
      expect(await requeueDead(db.knex, [first.id], { schema })).toEqual([first.id]);
      await waitFor('the requeue notification', () => payloads.length === 2);

      await relay.start();
      await waitFor('published by the relay on that schema', async () => (await status(schema, first.id)).status === 'published');
      expect(memory.sent.map((r) => r.topic)).toEqual([topic]);
    } finally {
      await relay.stop();
      await listener.end();
    }
  });
});
