/**
 * Dead letter ids are bigints (PostgreSQL's bigint, MySQL's BIGINT): an id beyond that range (or no number at all) is
 * refused with an error naming it, before any SQL, never with a raw database error.
 */
import { DeadLetters } from '@onceflow/consumer';
import { migrate, OptionError } from '@onceflow/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(2);
  await migrate(db.knex, { schema: db.schema });
});
afterAll(async () => {
  await db?.drop();
});

const publisher = { connect: async () => {}, disconnect: async () => {}, publish: async () => {} };

it('refuses ids beyond the bigint range by name, before any SQL', async () => {
  const deadLetters = new DeadLetters({ knex: db.knex, schema: db.schema });
  const tooLarge = '9223372036854775808';
  await expect(deadLetters.replay([tooLarge], publisher)).rejects.toMatchObject({
    name: 'DeadLetterError',
    code: 'ONCEFLOW_NOT_FOUND',
    deadLetterId: `"${tooLarge}"`,
    message: expect.stringMatching(/9223372036854775808.*beyond the range of ids \(decimal digits, at most 9223372036854775807\)/),
  });
  await expect(deadLetters.get('1e5')).rejects.toMatchObject({ name: 'DeadLetterError', message: expect.stringContaining('"1e5"') });
  const error = await deadLetters.list({ afterId: tooLarge }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OptionError);
  expect(error).toMatchObject({ option: 'afterId', value: `"${tooLarge}"` });
  // The largest bigint is an id: asked for, it is simply not there.
  await expect(deadLetters.get('9223372036854775807')).rejects.toMatchObject({ message: expect.stringContaining('no such dead letter') });
});

it('lists page by page, replays and purges in batches, by id and by consumer', async () => {
  const deadLetters = new DeadLetters({ knex: db.knex, schema: db.schema });
  const [mine, theirs] = [uniqueName('c'), uniqueName('c')];
  const row = (consumer: string, offset: number) => ({
    consumer,
    topic: 'orders',
    partition: 0,
    offset,
    key: `k${offset}`,
    dedup_key: `d${offset}`,
    headers: JSON.stringify({ 'x-emoji': '\u{1F600}' }),
    errors: JSON.stringify([{ attempt: 1, at: '2026-01-01T00:00:00.000Z', name: 'Error', message: 'boom' }]),
    attempts: 1,
  });
  await db.knex
    .withSchema(db.schema)
    .table('dead_letters')
    .insert([...[1, 2, 3, 4, 5].map((o) => row(mine, o)), ...[1, 2].map((o) => row(theirs, o))]);
  const first = await deadLetters.list({ consumerName: mine, limit: 2 });
  const second = await deadLetters.list({ consumerName: mine, limit: 2, afterId: first.at(-1)?.id as string });
  expect([...first, ...second].map((d) => d.offset)).toEqual(['1', '2', '3', '4']);
  expect(first[0]).toMatchObject({ consumerName: mine, dedupKey: 'd1', headers: { 'x-emoji': '\u{1F600}' }, rawKey: Buffer.from('k1') });
  expect(first[0]?.errors[0]).toMatchObject({ message: 'boom' });
  expect(first[0]?.createdAt).toBeInstanceOf(Date);
  expect(Math.abs((first[0]?.createdAt.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);

  const sent: string[] = [];
  const recorder = {
    ...publisher,
    publish: async (records: ReadonlyArray<{ key: string }>) => void sent.push(...records.map((r) => r.key)),
  };
  expect(await deadLetters.replay([first[0]?.id as string], recorder)).toBe(1);
  expect((await deadLetters.get(first[0]?.id as string)).replayedAt).toBeInstanceOf(Date);
  expect(await deadLetters.replayAll({ consumerName: mine }, recorder, { batchSize: 2 })).toBe(4);
  expect(sent).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
  expect(await deadLetters.list({ consumerName: mine })).toEqual([]);
  expect(await deadLetters.list({ consumerName: mine, includeReplayed: true })).toHaveLength(5);

  const [theirFirst] = await deadLetters.list({ consumerName: theirs });
  expect(await deadLetters.purge([theirFirst?.id as string])).toBe(1);
  const progress: number[] = [];
  expect(await deadLetters.purge({ consumerName: mine }, { batchSize: 2, onProgress: (n) => progress.push(n) })).toBe(5);
  expect(progress).toEqual([2, 4, 5]);
  expect(
    (await deadLetters.list({ includeReplayed: true, limit: 10_000 })).filter((d) => [mine, theirs].includes(d.consumerName)),
  ).toHaveLength(1);
});
