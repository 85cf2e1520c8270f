/**
 * Dead letter ids are bigints (PostgreSQL's bigint, MySQL's BIGINT): an id beyond that range (or no number at all) is
 * refused with an error naming it, before any SQL, never with a raw database error.
 */
import { DeadLetters } from '@onceflow/consumer';
import { migrate, OptionError } from '@onceflow/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase } from './support/database.ts';

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
