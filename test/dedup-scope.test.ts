/**
 * A message's identity is (topic, dedup key) by default: the same idempotency key on two
 * topics is two messages, a redelivered copy on one topic is still one. Rows written before
 * schema version 4 (no scope) keep deduping the messages they recorded after the upgrade.
 */
import type { ConsumedMessage, InboxConsumer } from '@onceflow/consumer';
import { Inbox, PostgresLeaseStore, SideEffectInbox, toConsumedMessage } from '@onceflow/consumer';
import { checkSchemaVersion, HeaderNames, migrate } from '@onceflow/core';
import { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dedupScopeMigration from '../migrations/20261129000004_onceflow_dedup_scope.js';
import * as holdsKeyMigration from '../migrations/20261129000005_onceflow_holds_key_hashed.js';
import * as rawBytesMigration from '../migrations/20261129000006_onceflow_dead_letter_raw_bytes.js';
import { committedTotal, publish, startConsumer, waitFor } from './support/consumer-helpers.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';

let db: TestDatabase;
let kafka: Kafka;

beforeAll(async () => {
  db = await createTestDatabase(10);
  await migrate(db.knex);
  await db.knex.raw('create table scope_effects (topic text not null, idem text not null)');
  kafka = testKafka('dedup-scope-test');
});
afterAll(async () => {
  await db?.drop();
});

const record = (topic: string, idempotencyKey: string, offset = 0): ConsumedMessage =>
  toConsumedMessage({
    topic,
    partition: 0,
    offset: String(offset),
    key: 'k',
    value: Buffer.from('{}'),
    headers: { [HeaderNames.id]: uniqueName('id'), [HeaderNames.idempotencyKey]: idempotencyKey },
    timestamp: String(Date.now()),
  });

const effect = async (m: ConsumedMessage, trx: Knex.Transaction) => {
  await trx('scope_effects').insert({ topic: m.topic, idem: m.idempotencyKey });
};

const effectCount = async (idem: string): Promise<number> =>
  Number((await db.knex.raw('select count(*) n from scope_effects where idem = ?', [idem])).rows[0].n);

describe('dedup scope through Kafka', () => {
  it('handles one idempotency key on two topics as two messages and skips a redelivered copy on the same topic', async () => {
    const paid = uniqueName('orders_paid');
    const refunded = uniqueName('orders_refunded');
    await createTopic(kafka, paid);
    await createTopic(kafka, refunded);
    const consumerName = uniqueName('scope_consumer');
    const groupId = uniqueName('scope_group');
    const idem = uniqueName('payment');
    let consumer: InboxConsumer | undefined;
    try {
      consumer = await startConsumer(kafka, groupId, [paid, refunded], { knex: db.knex, consumerName, handler: effect });
      await publish(kafka, paid, [{ key: 'order-1', payload: {}, idempotencyKey: idem }]);
      await publish(kafka, refunded, [{ key: 'order-1', payload: {}, idempotencyKey: idem }]);
      // The copy: the relay re-publishing the paid message after a lost acknowledgement.
      await publish(kafka, paid, [{ key: 'order-1', payload: {}, idempotencyKey: idem }]);
      await waitFor(
        'every offset committed',
        async () => (await committedTotal(kafka, groupId, paid)) === 2 && (await committedTotal(kafka, groupId, refunded)) === 1,
      );
      expect(consumer.stats()).toMatchObject({ handled: 2, duplicates: 1 });
      const rows = (await db.knex.raw('select topic from scope_effects where idem = ? order by topic', [idem])).rows;
      expect(rows.map((r: { topic: string }) => r.topic).sort()).toEqual([paid, refunded].sort());
    } finally {
      await consumer?.stop();
    }
  });
});

describe('dedup scope of the Inbox', () => {
  it("keeps one dedup space across topics under dedupScope 'consumer'", async () => {
    const inbox = new Inbox({ knex: db.knex, consumerName: uniqueName('c'), dedupScope: 'consumer' });
    const idem = uniqueName('pay');
    expect(await inbox.handle(record('a', idem), effect)).toBe('handled');
    expect(await inbox.handle(record('b', idem), effect)).toBe('duplicate');
    expect(await effectCount(idem)).toBe(1);
  });

  it('treats one key twice in one group as two messages when the topics differ', async () => {
    const inbox = new Inbox({ knex: db.knex, consumerName: uniqueName('c') });
    const idem = uniqueName('pay');
    const messages = [record('a', idem), record('b', idem), record('a', idem)];
    const result = await inbox.handleGroup(messages, [idem, idem, idem], effect);
    expect(result.outcomes).toEqual(['handled', 'handled', 'duplicate']);
    expect(await effectCount(idem)).toBe(2);
  });
});

describe('migration to schema version 4', () => {
  it('carries rows written before it over: their messages stay done, the same key on another topic is new', async () => {
    const schema = uniqueName('scope_mig');
    await migrate(db.knex, { schema });
    // Back to version 3 (no scope column), as a database upgraded from it would be.
    const scoped = db.knex.withUserParams({ schema });
    await rawBytesMigration.down(scoped);
    await holdsKeyMigration.down(scoped);
    await dedupScopeMigration.down(scoped);
    await db.knex.raw(`delete from "${schema}".knex_migrations where name in (?, ?, ?)`, [
      '20261129000004_onceflow_dedup_scope.js',
      '20261129000005_onceflow_holds_key_hashed.js',
      '20261129000006_onceflow_dead_letter_raw_bytes.js',
    ]);
    await expect(checkSchemaVersion(db.knex, schema)).rejects.toMatchObject({ name: 'SchemaVersionError' });
    const consumer = uniqueName('old');
    const effects = uniqueName('old_effects');
    const idem = uniqueName('pay');
    // What version 3 wrote: a transactional row (topic known) and a side-effect record (topic unknown).
    await db.knex.raw(`insert into "${schema}".inbox (consumer, dedup_key, topic, partition, "offset") values (?, ?, 'paid', 0, 7)`, [
      consumer,
      idem,
    ]);
    await db.knex.raw(`insert into "${schema}".inbox (consumer, dedup_key, status, fencing_token) values (?, ?, 'done', 1)`, [
      effects,
      idem,
    ]);

    await migrate(db.knex, { schema });
    await checkSchemaVersion(db.knex, schema);

    const inbox = new Inbox({ knex: db.knex, consumerName: consumer, schema });
    expect(await inbox.handle(record('paid', idem, 7), effect)).toBe('duplicate');
    expect(await inbox.handle(record('refunded', idem), effect)).toBe('handled');
    expect(await inbox.handle(record('refunded', idem), effect)).toBe('duplicate');
    expect(await effectCount(idem)).toBe(1);

    const sideEffects = new SideEffectInbox({ store: new PostgresLeaseStore({ knex: db.knex, schema }), consumerName: effects });
    let runs = 0;
    expect(await sideEffects.run(record('paid', idem), async () => void runs++)).toBe('duplicate');
    expect(await sideEffects.run(record('paid', idem), async () => void runs++)).toBe('duplicate');
    expect(runs).toBe(0);
    const other = uniqueName('pay');
    expect(await sideEffects.run(record('paid', other), async () => void runs++)).toBe('handled');
    expect(await sideEffects.run(record('refunded', other), async () => void runs++)).toBe('handled');
    expect(runs).toBe(2);
  });
});

describe('Redis fast path shared by two consumers', () => {
  it('never answers for another consumer or another topic, even when plain separators would join their keys', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: 6379 });
    try {
      const prefix = `${uniqueName('fast')}:`;
      const base = uniqueName('fp');
      // Unframed, ("<base>:y", "z") and ("<base>", "y:z") were one Redis key.
      const first = new Inbox({ knex: db.knex, consumerName: `${base}:y`, redis, fastPathPrefix: prefix });
      const second = new Inbox({ knex: db.knex, consumerName: base, redis, fastPathPrefix: prefix });
      const m = record('t', 'z');
      expect((await first.handleGroup([m], ['z'], effect)).outcomes).toEqual(['handled']);
      // The entry is written after the commit without waiting: wait until the fast path answers.
      await waitFor('the fast path knows the first message', async () => (await first.handleGroup([m], ['z'], effect)).fastPathHits.has(0));

      const other = record('t', 'y:z');
      const result = await second.handleGroup([other], ['y:z'], effect);
      expect(result.outcomes).toEqual(['handled']);
      expect(result.fastPathHits.size).toBe(0);

      // The same consumer and key on another topic is another message, not a fast path hit.
      const elsewhere = await first.handleGroup([record('u', 'z')], ['z'], effect);
      expect(elsewhere.outcomes).toEqual(['handled']);
      expect(elsewhere.fastPathHits.size).toBe(0);
      expect(await effectCount('z')).toBe(2);
      expect(await effectCount('y:z')).toBe(1);
      expect(await redis.keys(`${prefix}*`)).toHaveLength(3);
    } finally {
      redis.disconnect();
    }
  });
});
