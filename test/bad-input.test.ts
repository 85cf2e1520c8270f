/**
 * Bad input corpus: malformed Kafka records fed to a running InboxConsumer, outbox rows edited
 * by hand into invalid states handed to a running Relay, and identifiers with quotes or
 * semicolons in configuration. Each bad input is refused with a clear error or parked as dead
 * with its reason; everything else keeps flowing, nothing is lost, and no SQL is built from
 * message data.
 */
import type { ConsumedMessage } from '@onceflow/consumer';
import { DeadLetters, InboxConsumer } from '@onceflow/consumer';
import type { Publisher, Subscriber } from '@onceflow/core';
import { HeaderNames, migrate, OptionError } from '@onceflow/core';
import { KafkaPublisher, KafkaSubscriber } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import { listDead, Relay } from '@onceflow/relay';
import type { IHeaders, Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedTotal, startConsumer, waitFor } from './support/consumer-helpers.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { readTopic, testKafka } from './support/kafka.ts';

const INJECTION = `'); drop table bad_input_canary; --`;
const MB = 1024 * 1024;

let db: TestDatabase;
let kafka: Kafka;

beforeAll(async () => {
  db = await createTestDatabase(20);
  await migrate(db.knex);
  await db.knex.raw('create table bad_input_canary (n integer)');
  await db.knex.raw('create table bad_input_effects (dedup_key text not null, key text, bytes integer not null, note text)');
  kafka = testKafka('bad-input-test');
});
afterAll(async () => {
  await db?.drop();
});

async function canarySurvives(): Promise<boolean> {
  const result = await db.knex.raw(`select to_regclass('public.bad_input_canary') is not null as present`);
  return result.rows[0].present === true;
}

/** Creates a one-partition topic that accepts records of up to `maxMessageBytes`. */
async function createTopic(topic: string, maxMessageBytes = 1_048_588): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        { topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: String(maxMessageBytes) }] },
      ],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

interface RawRecord {
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: IHeaders;
}

/** Publishes raw records in order, as any client could, bypassing Onceflow's producer. */
async function produceRaw(topic: string, records: readonly RawRecord[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (const r of records) await producer.send({ topic, acks: -1, messages: [{ key: r.key, value: r.value, headers: r.headers ?? {} }] });
  } finally {
    await producer.disconnect();
  }
}

/** Publishes `records` to the running `consumer` and waits until each is handled or parked and every offset is committed. */
async function consumeAll(consumer: InboxConsumer, groupId: string, topic: string, records: readonly RawRecord[]): Promise<void> {
  await produceRaw(topic, records);
  await waitFor('every record handled or parked', () => {
    const s = consumer.stats();
    return s.handled + s.deadLettered === records.length;
  });
  await waitFor('every offset committed', async () => (await committedTotal(kafka, groupId, topic)) === records.length, 20_000);
}

const onceflowHeaders = (idempotencyKey: string): IHeaders => ({
  [HeaderNames.id]: `id-${idempotencyKey}`,
  [HeaderNames.idempotencyKey]: idempotencyKey,
});

/** The handler reads the payload as JSON (so a non-JSON value fails here) and records one effect row. */
async function recordEffect(message: ConsumedMessage, trx: Knex.Transaction): Promise<void> {
  const payload = message.payload as { note?: string } | null;
  await trx.raw('insert into bad_input_effects (dedup_key, key, bytes, note) values (?, ?, ?, ?)', [
    message.idempotencyKey ?? message.id ?? '',
    message.key,
    message.value?.length ?? 0,
    payload?.note ?? null,
  ]);
}

async function effectRows(): Promise<Array<{ dedup_key: string; key: string | null; bytes: number; note: string | null }>> {
  return (await db.knex.raw('select dedup_key, key, bytes, note from bad_input_effects order by dedup_key')).rows;
}

describe('malformed Kafka records fed to a running InboxConsumer', () => {
  it('parks each bad record with its reason, handles the good ones around it, commits every offset and runs no SQL from data', async () => {
    const topic = uniqueName('bad_records');
    await createTopic(topic, 8 * MB);
    const consumerName = uniqueName('bad_records_consumer');
    const groupId = uniqueName('bad_records_group');
    const big = JSON.stringify({ note: 'big', pad: 'x'.repeat(3 * MB) });
    const records: RawRecord[] = [
      { key: 'good-1', value: JSON.stringify({ note: 'good-1' }), headers: onceflowHeaders('good-1') },
      // 1: a value that is not JSON: the handler's payload read throws a ValidationError (not retriable).
      { key: 'not-json', value: Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x6e]), headers: onceflowHeaders('not-json') },
      // 2: no Onceflow headers with the default dedup mode: no dedup key, parked without running the handler.
      { key: 'bare', value: JSON.stringify({ note: 'bare' }) },
      // 3: a value of several MB (the topic allows 8 MB).
      { key: 'big', value: big, headers: onceflowHeaders('big') },
      // 4: SQL in the key and the idempotency key: stored verbatim as data.
      { key: INJECTION, value: JSON.stringify({ note: 'injection' }), headers: onceflowHeaders(INJECTION) },
      // 5: SQL in the key of a record parked for lack of headers: stored verbatim in dead_letters.
      { key: INJECTION, value: JSON.stringify({ note: 'bare injection' }), headers: { 'x-note': INJECTION } },
      // 6: odd header bytes: invalid UTF-8 and non-ASCII names beside valid Onceflow headers.
      {
        key: 'odd-headers',
        value: JSON.stringify({ note: 'odd-headers' }),
        headers: { ...onceflowHeaders('odd-headers'), 'x-bin': Buffer.from([0xc3, 0x28, 0xff, 0xfe]), 'x-ünï': 'ok' },
      },
      // 7: an empty idempotency-key header counts as missing.
      { key: 'empty-idem', value: JSON.stringify({ note: 'empty-idem' }), headers: { [HeaderNames.idempotencyKey]: '' } },
      { key: 'good-2', value: JSON.stringify({ note: 'good-2' }), headers: onceflowHeaders('good-2') },
    ];
    let consumer: InboxConsumer | undefined;
    try {
      consumer = await startConsumer(kafka, groupId, [topic], { knex: db.knex, consumerName, handler: recordEffect, maxAttempts: 2 });
      await consumeAll(consumer, groupId, topic, records);
      expect(consumer.stats()).toMatchObject({ handled: 5, deadLettered: 4, duplicates: 0 });

      const rows = await effectRows();
      expect(rows.map((r) => [r.key, r.note])).toEqual(
        [
          [INJECTION, 'injection'],
          ['big', 'big'],
          ['good-1', 'good-1'],
          ['good-2', 'good-2'],
          ['odd-headers', 'odd-headers'],
        ].sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)),
      );
      expect(rows.find((r) => r.key === 'big')?.bytes).toBe(Buffer.byteLength(big));
      const inbox = await db.knex.raw('select dedup_key from onceflow.inbox where consumer = ? order by dedup_key', [consumerName]);
      expect(inbox.rows.map((r: { dedup_key: string }) => r.dedup_key)).toContain(INJECTION);

      const parked = (await new DeadLetters({ knex: db.knex }).list({ consumerName })).sort((a, b) => Number(a.offset) - Number(b.offset));
      expect(parked.map((d) => [d.offset, d.key, d.attempts])).toEqual([
        ['1', 'not-json', 1],
        ['2', 'bare', 0],
        ['5', INJECTION, 0],
        ['7', 'empty-idem', 0],
      ]);
      const reasons = parked.map((d) => `${d.errors[0]?.name}: ${d.errors[0]?.message}`);
      expect(reasons[0]).toMatch(/^ValidationError: Invalid payload \(a Buffer of 5 bytes\): the record at .*\/0@1 is not JSON/);
      for (const reason of reasons.slice(1))
        expect(reason).toMatch(/^DedupKeyError: Cannot derive a dedup key for .*: header onceflow-idempotency-key gave nothing/);
      expect(parked[0]?.value).toEqual(Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x6e]));
      expect(parked[2]?.headers).toEqual({ 'x-note': INJECTION });
      expect(await canarySurvives()).toBe(true);
    } finally {
      await consumer?.stop();
    }
  });
});

describe('Kafka records carrying NUL characters, which PostgreSQL text cannot store', () => {
  it('parks or handles each one and never stalls the partition', async () => {
    const topic = uniqueName('nul_records');
    await createTopic(topic);
    const consumerName = uniqueName('nul_consumer');
    const groupId = uniqueName('nul_group');
    const records: RawRecord[] = [
      // A NUL in a header other than ours: stored only in the record, so the record is handled.
      {
        key: 'nul-header',
        value: JSON.stringify({ note: 'nul-header' }),
        headers: { ...onceflowHeaders('nul-header'), 'x-odd': 'a\u0000b' },
      },
      // A NUL in the idempotency key: no dedup key can be stored, so the record is parked at once.
      {
        key: 'nul-idem',
        value: JSON.stringify({ note: 'nul-idem' }),
        headers: { ...onceflowHeaders('pay\u0000ment'), 'x-odd': 'c\u0000d' },
      },
      // A NUL in the Kafka key: the handler's own insert fails every time, so it is parked after maxAttempts.
      { key: 'k\u0000ey', value: JSON.stringify({ note: 'nul-key' }), headers: onceflowHeaders('nul-key') },
      { key: 'good-3', value: JSON.stringify({ note: 'good-3' }), headers: onceflowHeaders('good-3') },
    ];
    let consumer: InboxConsumer | undefined;
    try {
      consumer = await startConsumer(kafka, groupId, [topic], { knex: db.knex, consumerName, handler: recordEffect, maxAttempts: 2 });
      await consumeAll(consumer, groupId, topic, records);
      expect(consumer.stats()).toMatchObject({ handled: 2, deadLettered: 2 });
      const notes = (await effectRows()).map((r) => r.note);
      expect(notes).toContain('nul-header');
      expect(notes).toContain('good-3');
      const parked = (await new DeadLetters({ knex: db.knex }).list({ consumerName })).sort((a, b) => Number(a.offset) - Number(b.offset));
      expect(parked.map((d) => [d.offset, d.key, d.attempts])).toEqual([
        ['1', 'nul-idem', 0],
        ['2', 'k\uFFFDey', 2],
      ]);
      expect(parked[0]?.errors[0]?.message).toMatch(/NUL/);
      expect(parked[0]?.headers['x-odd']).toBe('c\uFFFDd');
    } finally {
      await consumer?.stop();
    }
  });
});

describe('outbox rows edited by hand into invalid states, handed to a running Relay', () => {
  it('parks an invalid topic as dead with the reason, publishes odd but publishable rows verbatim, keeps every other row flowing', async () => {
    const topic = uniqueName('bad_outbox');
    await createTopic(topic);
    const names = [
      'good-1',
      'bad-topic',
      'after-bad-topic',
      'injection',
      'attempts',
      'errors-not-array',
      'hand-dead',
      'empty-key',
      'headers-text',
      'headers-number',
      'after-headers-number',
      'good-2',
    ];
    const keyOf = (n: string) =>
      n === 'after-bad-topic' ? 'key-bad-topic' : n === 'after-headers-number' ? 'key-headers-number' : `key-${n}`;
    await db.knex.transaction(async (trx) => {
      await new OutboxWriter().enqueue(
        trx,
        names.map((n) => ({ topic, key: keyOf(n), idempotencyKey: n, payload: { n } })),
      );
    });
    const edit = (n: string, set: string, bindings: string[] = []) =>
      db.knex.raw(`update onceflow.outbox set ${set} where idempotency_key = ? and topic = ?`, [...bindings, n, topic]);
    await edit('bad-topic', 'topic = ?', ['bad topic; drop!']);
    await edit('injection', 'key = ?', [INJECTION]);
    await edit('attempts', 'attempts = 1000');
    await edit('errors-not-array', `errors = '"not an array"'::jsonb`);
    // A status the schema allows, set by hand: the row is listed as dead and not published until requeued.
    await edit('hand-dead', `status = 'dead', dead_at = now()`);
    // Rows no producer call could write: parked dead with the field named, and the later row
    // of the same key is published once its predecessor is parked.
    await edit('empty-key', `key = ''`);
    await edit('headers-text', `headers = '"text"'::jsonb`);
    await edit('headers-number', `headers = '{"x-num": 1}'::jsonb`);

    const relay = new Relay({
      knex: db.knex,
      publisher: new KafkaPublisher(kafka),
      maxAttempts: 2,
      minBackoffMs: 50,
      maxBackoffMs: 200,
      pollIntervalMs: 100,
    });
    await relay.start();
    try {
      const status = async () =>
        Object.fromEntries(
          (
            await db.knex.raw(`select idempotency_key, status from onceflow.outbox where idempotency_key = any(?) and seq > 0`, [names])
          ).rows.map((r: { idempotency_key: string; status: string }) => [r.idempotency_key, r.status]),
        );
      await waitFor('no pending rows', async () => !Object.values(await status()).includes('pending'), 30_000);
      expect(await status()).toEqual({
        'good-1': 'published',
        'bad-topic': 'dead',
        'after-bad-topic': 'published',
        injection: 'published',
        attempts: 'published',
        'errors-not-array': 'published',
        'hand-dead': 'dead',
        'empty-key': 'dead',
        'headers-text': 'dead',
        'headers-number': 'dead',
        'after-headers-number': 'published',
        'good-2': 'published',
      });
      const reason = async (key: string) => {
        const dead = await listDead(db.knex, { key });
        expect(dead, key).toHaveLength(1);
        expect(dead[0]?.attempts).toBe(1);
        return dead[0]?.errors[0]?.error;
      };
      expect(await reason('key-bad-topic')).toMatch(/Invalid topic \("bad topic; drop!"\)/);
      expect(await reason('')).toMatch(/Invalid key \(""\)/);
      expect(await reason('key-headers-text')).toMatch(/Invalid headers \("text"\)/);
      expect(await reason('key-headers-number')).toMatch(/Invalid headers\.x-num \(1\)/);

      const records = await readTopic(kafka, topic, 7, 30_000);
      expect(records.map((r) => r.headers[HeaderNames.idempotencyKey]).sort()).toEqual(
        ['good-1', 'after-bad-topic', 'injection', 'attempts', 'errors-not-array', 'after-headers-number', 'good-2'].sort(),
      );
      expect(records.find((r) => r.headers[HeaderNames.idempotencyKey] === 'injection')?.key).toBe(INJECTION);
      expect(await canarySurvives()).toBe(true);
    } finally {
      await relay.stop();
    }
  });
});

describe('identifiers with quotes or semicolons in configuration', () => {
  const bad = [`x"; drop table bad_input_canary; --`, `onceflow'`, 'a;b', 'Onceflow', '', 'a'.repeat(64), 'schema with space'];
  const publisher: Publisher = { connect: async () => undefined, publish: async () => undefined, disconnect: async () => undefined };
  const subscriber: Subscriber = { start: async () => undefined, stop: async () => undefined };

  function refused(option: string, value: string, make: () => unknown): void {
    let error: unknown;
    try {
      make();
    } catch (e) {
      error = e;
    }
    expect(error, `${option} = ${JSON.stringify(value)}`).toBeInstanceOf(OptionError);
    expect((error as OptionError).option).toBe(option);
    expect((error as OptionError).message).toContain(JSON.stringify(value));
  }

  it('refuses a bad schema at construction in OutboxWriter, Relay, InboxConsumer, DeadLetters, and in migrate and listDead', async () => {
    for (const schema of bad) {
      refused('schema', schema, () => new OutboxWriter({ schema }));
      refused('schema', schema, () => new Relay({ knex: db.knex, publisher, schema }));
      refused('schema', schema, () => new InboxConsumer({ knex: db.knex, consumerName: 'c', schema, handler: recordEffect, subscriber }));
      refused('schema', schema, () => new DeadLetters({ knex: db.knex, schema }));
      await expect(migrate(db.knex, { schema })).rejects.toMatchObject({ name: 'OptionError', option: 'schema' });
      await expect(listDead(db.knex, { schema })).rejects.toMatchObject({ name: 'OptionError', option: 'schema' });
    }
    expect(await canarySurvives()).toBe(true);
  });

  it('refuses topic names with quotes or semicolons in the consumer configuration', () => {
    refused(
      'deadLetterTopic',
      `dlq'; --`,
      () =>
        new InboxConsumer({
          knex: db.knex,
          consumerName: 'c',
          handler: recordEffect,
          subscriber,
          deadLetterTopic: `dlq'; --`,
          deadLetterPublisher: publisher,
        }),
    );
    let error: unknown;
    try {
      new KafkaSubscriber(kafka, { groupId: 'g', topics: ['ok', `t"; drop`] });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: 'OptionError', option: 'topics' });
  });
});
