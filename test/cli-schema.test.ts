import { InboxConsumer } from '@onceflow/consumer';
import { migrate, migrateCommandFor, SCHEMA_VERSION, SchemaVersionError } from '@onceflow/core';
import { KafkaPublisher, KafkaSubscriber } from '@onceflow/kafka';
import { Relay } from '@onceflow/relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extraSchemas, onceflow, tableOf } from './support/cli.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase } from './support/database.ts';
import { testKafka } from './support/kafka.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(4);
});
afterAll(async () => {
  await db?.drop();
});
const uniqueName = extraSchemas(() => db);

const ID = '0190f3c8-9b7e-7c3a-8f00-000000000001';

/** Every command that reads or writes Onceflow's tables, as an operator would type it. */
const COMMANDS: string[][] = [
  ['status'],
  ['dead', 'list'],
  ['dead', 'show', ID],
  ['dead', 'retry', '--all'],
  ['dead', 'purge', '--all'],
  ['dead-letters', 'list'],
  ['dead-letters', 'show', '1'],
  ['dead-letters', 'replay', '1'],
  ['dead-letters', 'purge', '--all'],
  ['prune'],
  ['prune', '--inbox-older-than', '2d', '--redelivery-horizon', '1d'],
];

/** Asserts a failure of one line that names `fix`, with neither SQL nor the server's wording. */
function expectOneLine(result: { code: number; stdout: string; stderr: string }, fix: string, label: string): void {
  expect(result.code, label).toBe(1);
  expect(result.stdout, label).toBe('');
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  expect(lines, `${label}: ${result.stderr}`).toHaveLength(1);
  expect(lines[0], label).toContain(fix);
  expect(lines[0]?.toLowerCase(), label).not.toMatch(/select|relation|from "|from `|does not exist|doesn't exist|unknown database|syntax/);
}

describe('a database or schema without Onceflow tables, or at another version', () => {
  it('makes every command fail in one line naming `onceflow migrate` (default schema and --schema)', async () => {
    await Promise.all(
      COMMANDS.map(async (command) => {
        // No --schema: "onceflow" on PostgreSQL, the test database on MariaDB (the CLI's ONCEFLOW_SCHEMA).
        expectOneLine(await onceflow(db.url, ...command), `run \`${migrateCommandFor(db.schema)}\` first`, command.join(' '));
        const schema = uniqueName('none');
        const fix = `run \`onceflow migrate --schema ${schema}\``;
        expectOneLine(await onceflow(db.url, ...command, '--schema', schema), fix, command.join(' '));
        expectOneLine(await onceflow(db.url, ...command, '--json'), 'onceflow migrate', `${command.join(' ')} --json`);
      }),
    );
  });

  it('names the version found and the command for an older schema, and says to upgrade for a newer one', async () => {
    const schema = uniqueName('old');
    await migrate(db.knex, { schema });
    await db.knex.raw(`update ${tableOf(db, 'meta', schema)} set value = '2' where name = 'schema_version'`);
    for (const command of [['status'], ['dead', 'list'], ['dead-letters', 'list']]) {
      const result = await onceflow(db.url, ...command, '--schema', schema);
      expectOneLine(result, `run \`onceflow migrate --schema ${schema}\``, command.join(' '));
      expect(result.stderr).toContain('version 2');
    }
    await db.knex.raw(`update ${tableOf(db, 'meta', schema)} set value = '99' where name = 'schema_version'`);
    expectOneLine(await onceflow(db.url, 'status', '--schema', schema), 'upgrade the @onceflow packages', 'newer');
  });

  it('makes `onceflow relay` fail at start in one line', async () => {
    const schema = uniqueName('relay');
    expectOneLine(await onceflow(db.url, 'relay', '--schema', schema), `run \`onceflow migrate --schema ${schema}\``, 'relay');
  });

  it('makes Relay.start and InboxConsumer.start throw the one-line error naming the command', async () => {
    const schema = uniqueName('start');
    const kafka = testKafka();
    const relay = new Relay({ knex: db.knex, publisher: new KafkaPublisher(kafka), schema });
    const relayError = await relay.start().then(
      () => null,
      (error: unknown) => error,
    );
    await relay.stop();
    expect(relayError).toBeInstanceOf(SchemaVersionError);
    expect((relayError as Error).message).toBe(
      `Onceflow schema check failed: no Onceflow tables in schema "${schema}" of this database; run \`onceflow migrate --schema ${schema}\` first`,
    );
    expect(relayError).toMatchObject({ code: 'ONCEFLOW_SCHEMA_VERSION', schema, found: null, expected: SCHEMA_VERSION });

    const consumer = new InboxConsumer({
      knex: db.knex,
      consumerName: 'c',
      schema,
      handler: async () => {},
      subscriber: new KafkaSubscriber(kafka, { groupId: uniqueName('group'), topics: [uniqueName('topic')] }),
    });
    const consumerError = await consumer.start().then(
      () => null,
      (error: unknown) => error,
    );
    await consumer.stop();
    expect(consumerError).toBeInstanceOf(SchemaVersionError);
    expect((consumerError as Error).message).toContain(`run \`onceflow migrate --schema ${schema}\``);
    expect((consumerError as Error).message).not.toContain('\n');
  });
});
