/**
 * Kafka records are untrusted input: a record whose dedup key is small in characters but large
 * in bytes, NUL characters in header names and values, an error message with a lone surrogate,
 * and a dead letter PostgreSQL refuses outright must each be handled or parked, and the
 * partition's later messages of the same key must still be handled with every offset committed.
 */
import type { ConsumedMessage, InboxConsumer } from '@onceflow/consumer';
import { DeadLetters, MAX_DEDUP_KEY_BYTES, RawDeadLetterHeaders } from '@onceflow/consumer';
import { HeaderNames, migrate } from '@onceflow/core';
import type { IHeaders, Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedTotal, startConsumer, waitFor } from './support/consumer-helpers.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';

let db: TestDatabase;
let kafka: Kafka;

beforeAll(async () => {
  db = await createTestDatabase(10);
  await migrate(db.knex);
  await db.knex.raw('create table hostile_effects (topic text not null, idem text not null, note text)');
  // Stands in for whatever the next unforeseen content is that PostgreSQL refuses: a data
  // exception (class 22) for any dead letter carrying the header x-refuse.
  await db.knex.raw(`
    create function refuse_dead_letter() returns trigger language plpgsql as $$
    begin
      if jsonb_exists(new.headers, 'x-refuse') then raise exception 'refused for the test' using errcode = '22023'; end if;
      return new;
    end $$`);
  await db.knex.raw(
    'create trigger refuse_dead_letter before insert on onceflow.dead_letters for each row execute function refuse_dead_letter()',
  );
  kafka = testKafka('hostile-records-test');
});
afterAll(async () => {
  await db?.drop();
});

interface RawRecord {
  key: string;
  value: string;
  headers: IHeaders;
}

async function produceRaw(topic: string, records: readonly RawRecord[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })) });
  } finally {
    await producer.disconnect();
  }
}

/** `count` random CJK characters (3 UTF-8 bytes each), which compress poorly in an index entry. */
function cjk(count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += String.fromCharCode(0x4e00 + Math.floor(Math.random() * 0x5000));
  return out;
}

const headersFor = (idem: string, extra: IHeaders = {}): IHeaders => ({
  [HeaderNames.id]: `id-${idem.slice(0, 20)}`,
  [HeaderNames.idempotencyKey]: idem,
  ...extra,
});

// An error message whose 2,000-character cut falls inside a surrogate pair, with a NUL and a lone low surrogate too.
const HOSTILE_ERROR = `${'e'.repeat(1_996)}\ud83d\ude00 \u0000 \udc00 tail`;

describe('hostile records on one key of one partition', () => {
  it('handles or parks each one, then handles the later messages of the key and commits every offset', async () => {
    const topic = uniqueName('hostile');
    await createTopic(kafka, topic);
    const consumerName = uniqueName('hostile_consumer');
    const groupId = uniqueName('hostile_group');
    const longKey = cjk(1_000);
    const fittingKey = cjk(Math.floor(MAX_DEDUP_KEY_BYTES / 3));
    expect(longKey.length).toBeLessThan(1_024);
    expect(Buffer.byteLength(longKey)).toBeGreaterThan(2_900);
    const records: RawRecord[] = [
      { key: 'k', value: '{"note":"good-1"}', headers: headersFor('good-1') },
      // 1: few characters, many bytes: refused as a dedup key and parked with the reason.
      { key: 'k', value: '{"note":"long-key"}', headers: headersFor(longKey) },
      // 2: just within the byte limit: handled.
      { key: 'k', value: '{"note":"fitting-key"}', headers: headersFor(fittingKey) },
      // 3: NUL in a header name and value: handled; the headers are only stored if parked.
      { key: 'k', value: '{"note":"nul-headers"}', headers: headersFor('nul-headers', { 'x-\u0000name': 'v\u0000alue' }) },
      // 4: the handler throws an error text PostgreSQL's jsonb cannot hold as is; parked.
      { key: 'k', value: '{"note":"fail"}', headers: headersFor('fail', { 'x-\u0000odd': 'a\u0000b' }) },
      // 5: parking is refused by PostgreSQL itself: parked through the last-resort row.
      { key: 'k', value: '{"note":"refuse"}', headers: headersFor('refuse', { 'x-refuse': 'yes' }) },
      { key: 'k', value: '{"note":"good-2"}', headers: headersFor('good-2') },
    ];
    const handler = async (message: ConsumedMessage, trx: Knex.Transaction) => {
      const note = (message.payload as { note: string }).note;
      if (note === 'fail' || note === 'refuse') throw new Error(HOSTILE_ERROR);
      await trx('hostile_effects').insert({ topic: message.topic, idem: message.idempotencyKey, note });
    };
    let consumer: InboxConsumer | undefined;
    try {
      consumer = await startConsumer(kafka, groupId, [topic], { knex: db.knex, consumerName, handler, maxAttempts: 2 });
      await produceRaw(topic, records);
      await waitFor('every offset committed', async () => (await committedTotal(kafka, groupId, topic)) === records.length, 60_000);
      expect(consumer.stats()).toMatchObject({ handled: 4, deadLettered: 3, duplicates: 0 });

      const notes = (await db.knex('hostile_effects').select('note', 'idem')).map((r: { note: string }) => r.note);
      expect(notes).toEqual(['good-1', 'fitting-key', 'nul-headers', 'good-2']);

      const parked = (await new DeadLetters({ knex: db.knex }).list({ consumerName })).sort((a, b) => Number(a.offset) - Number(b.offset));
      expect(parked.map((d) => d.offset)).toEqual(['1', '4', '5']);
      const [longKeyLetter, failLetter, refusedLetter] = parked;
      expect(longKeyLetter?.dedupKey).toBeNull();
      expect(longKeyLetter?.headers[HeaderNames.idempotencyKey]).toBe(longKey);
      expect(longKeyLetter?.errors[0]?.message).toMatch(/gave a key of \d+ UTF-8 bytes \(1000 characters\); at most 1024 bytes/);

      expect(failLetter?.attempts).toBe(2);
      expect(failLetter?.dedupKey).toBe('fail');
      expect(failLetter?.headers['x-\uFFFDodd']).toBe('a\uFFFDb');
      const stored = failLetter?.errors[0]?.message ?? '';
      expect(stored.isWellFormed()).toBe(true);
      expect(stored.startsWith('e'.repeat(1_996))).toBe(true);
      expect(stored).not.toContain('\u0000');

      expect(refusedLetter?.key).toBeNull();
      expect(refusedLetter?.dedupKey).toBeNull();
      expect(refusedLetter?.errors[0]).toMatchObject({ name: 'DeadLetterRefused', code: '22023' });
      const decode = (name: string) => JSON.parse(Buffer.from(refusedLetter?.headers[name] ?? '', 'base64').toString('utf8'));
      expect(decode(RawDeadLetterHeaders.key)).toBe('k');
      expect(decode(RawDeadLetterHeaders.headers)).toMatchObject({ 'x-refuse': 'yes', [HeaderNames.idempotencyKey]: 'refuse' });
      expect(decode(RawDeadLetterHeaders.errors)).toHaveLength(2);
      expect(refusedLetter?.value?.toString()).toBe('{"note":"refuse"}');
    } finally {
      await consumer?.stop();
    }
  });
});
