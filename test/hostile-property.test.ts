/**
 * Generated hostile input (fast-check, seeded): random records at a real InboxConsumer over
 * the real broker, and random messages at `enqueue`. Nothing stalls (every offset is
 * committed), nothing is lost (each record is handled, skipped as a duplicate of one that
 * was, or parked), and every refusal of `enqueue` is a ValidationError naming its field.
 * FC_SEED replays a run; FC_RUNS_ENQUEUE / FC_RUNS_CONSUMER make it larger.
 */
import type { ConsumedMessage, InboxConsumer } from '@onceflow/consumer';
import type { MessageInput } from '@onceflow/core';
import { FatalHandlerError, HeaderNames, migrate, ValidationError } from '@onceflow/core';
import { OutboxWriter } from '@onceflow/producer';
import fc from 'fast-check';
import type { IHeaders, Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { committedTotal, startConsumer, waitFor } from './support/consumer-helpers.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';

const SEED = process.env.FC_SEED === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(process.env.FC_SEED);
const ENQUEUE_RUNS = Number(process.env.FC_RUNS_ENQUEUE ?? 150);
const CONSUMER_RUNS = Number(process.env.FC_RUNS_CONSUMER ?? 5);

let db: TestDatabase;
let kafka: Kafka;

beforeAll(async () => {
  db = await createTestDatabase(10);
  await migrate(db.knex);
  await db.knex.raw('create table property_effects (offset_text text not null)');
  kafka = testKafka('hostile-property-test');
});
afterAll(async () => {
  await db?.drop();
});

/** Runs a property with the run's seed, and names the seed on failure so it can be replayed. */
async function check(property: fc.IAsyncProperty<[unknown]> | fc.IAsyncPropertyWithHooks<[unknown]>, numRuns: number): Promise<void> {
  try {
    await fc.assert(property as fc.IAsyncProperty<[unknown]>, { seed: SEED, numRuns, endOnFailure: true });
  } catch (error) {
    throw new Error(`Property failed; replay with FC_SEED=${SEED}\n${(error as Error).message}`, { cause: error });
  }
}

/** Lengths just below, at and above the byte limits that matter (index entries, key limits). */
const LIMIT_LENGTHS = [0, 1, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 2047, 2048, 2700, 2701, 8191, 8192, 8193];

/** Text no producer should send: lone surrogates, NUL, control characters, multi-byte runs at limits. */
const hostileText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('\u0000', '\ud800', '\udfff', 'a\u0000b', '\u0007\u001b[31m', '\ud83d', 'ok', '', ' '),
  fc
    .tuple(fc.constantFrom(...LIMIT_LENGTHS), fc.constantFrom('a', 'é', '€', '😀'))
    .map(([n, c]) => c.repeat(Math.ceil(n / Buffer.byteLength(c)))),
);

const forgedHeaders = fc.dictionary(
  fc.oneof(fc.constantFrom(...Object.values(HeaderNames), 'onceflow-dead-letter-id', 'onceflow-raw-key-base64'), hostileText),
  hostileText,
  { maxKeys: 6 },
);

it('enqueue stores a hostile message or refuses it with a ValidationError naming its field', async () => {
  const writer = new OutboxWriter();
  const message = fc.record(
    {
      topic: fc.oneof(fc.constant('orders.paid'), hostileText),
      key: hostileText,
      payload: fc.oneof(fc.jsonValue(), hostileText, fc.constant(undefined)),
      idempotencyKey: hostileText,
      type: hostileText,
      headers: forgedHeaders,
    },
    { requiredKeys: ['topic', 'key', 'payload'] },
  );
  await check(
    fc.asyncProperty(message, async (m) => {
      const outcome = await db.knex
        .transaction(async (trx) => {
          await writer.enqueue(trx, m as MessageInput);
          throw new RollBack();
        })
        .catch((error: unknown) => error);
      if (outcome instanceof RollBack) return;
      expect(outcome).toBeInstanceOf(ValidationError);
      const error = outcome as ValidationError;
      expect(error.field).toMatch(/^(topic|key|payload|idempotencyKey|type|headers|message)\b/);
      expect(error.message).toContain(`Invalid ${error.field} `);
    }) as fc.IAsyncProperty<[unknown]>,
    ENQUEUE_RUNS,
  );
}, 120_000);

class RollBack extends Error {}

interface HostileRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  fail: boolean;
}

const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.constantFrom(...LIMIT_LENGTHS).map((n) => new Uint8Array(n).fill(0xe9)),
);
const hostileRecord: fc.Arbitrary<HostileRecord> = fc.record({
  key: fc.option(
    bytes.map((b) => Buffer.from(b)),
    { nil: null },
  ),
  value: fc.option(
    fc.oneof(
      bytes.map((b) => Buffer.from(b)),
      fc.jsonValue().map((j) => Buffer.from(JSON.stringify(j) ?? 'null')),
    ),
    { nil: null },
  ),
  headers: fc.oneof(
    forgedHeaders,
    fc.dictionary(
      hostileText,
      fc.array(
        bytes.map((b) => Buffer.from(b)),
        { minLength: 1, maxLength: 3 },
      ),
      { maxKeys: 3 },
    ),
  ),
  fail: fc.boolean(),
});

it('a real consumer handles, skips or parks every hostile record and commits every offset', async () => {
  await check(
    fc.asyncProperty(fc.array(hostileRecord, { minLength: 1, maxLength: 25 }), async (records) => {
      const topic = uniqueName('property');
      await createTopic(kafka, topic, 2);
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        await producer.send({
          topic,
          acks: -1,
          messages: records.map((r, i) => ({
            key: r.key,
            value: r.value,
            headers: { ...r.headers, 'x-fail': r.fail ? 'yes' : 'no', 'x-index': String(i) },
          })),
        });
      } finally {
        await producer.disconnect();
      }
      const consumerName = uniqueName('property_consumer');
      const groupId = uniqueName('property_group');
      const handler = async (message: ConsumedMessage, trx: Knex.Transaction) => {
        if (message.headers['x-fail'] === 'yes') throw new FatalHandlerError('refused by the property');
        await trx('property_effects').insert({ offset_text: `${message.partition}@${message.offset}` });
      };
      let consumer: InboxConsumer | undefined;
      try {
        consumer = await startConsumer(kafka, groupId, [topic], { knex: db.knex, consumerName, handler, maxAttempts: 2 });
        await waitFor('every offset committed', async () => (await committedTotal(kafka, groupId, topic)) === records.length, 60_000);
        const stats = consumer.stats();
        expect(stats.handled + stats.duplicates + stats.deadLettered).toBe(records.length);
        const { rows } = await db.knex.raw('select count(*)::int as n from onceflow.dead_letters where consumer = ?', [consumerName]);
        expect(rows[0].n).toBe(stats.deadLettered);
      } finally {
        await consumer?.stop();
      }
    }) as fc.IAsyncProperty<[unknown]>,
    CONSUMER_RUNS,
  );
}, 180_000);
