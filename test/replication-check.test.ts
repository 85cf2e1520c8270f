import { InboxConsumer } from '@onceflow/consumer';
import type { LogFields, Logger } from '@onceflow/core';
import { migrate, ReplicationError } from '@onceflow/core';
import { KafkaPublisher, KafkaSubscriber } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import { Relay } from '@onceflow/relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastGroup } from './support/consumer-helpers.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';

let db: TestDatabase;
const kafka = testKafka('onceflow-replication-test');

beforeAll(async () => {
  db = await createTestDatabase(6);
});
afterAll(async () => {
  await db?.drop();
});

function recorder(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (_fields: LogFields, message: string) => warnings.push(message),
    error() {},
    child: () => logger,
  };
  return { logger, warnings };
}

describe('the replication check at start (the local test broker has replication factor 1)', () => {
  it('warns about the consumer topic, and strictReplication refuses to start naming it', async () => {
    const schema = uniqueName('rep');
    const topic = uniqueName('rep.orders');
    await migrate(db.knex, { schema });
    await createTopic(kafka, topic, 1);
    const consumerOf = (strictReplication: boolean, logger: Logger) =>
      new InboxConsumer({
        knex: db.knex,
        schema,
        consumerName: 'rewards',
        logger,
        strictReplication,
        subscriber: new KafkaSubscriber(kafka, { groupId: uniqueName('rep'), topics: [topic], ...fastGroup }),
        handler: async () => undefined,
      });

    const lenient = recorder();
    const consumer = consumerOf(false, lenient.logger);
    await consumer.start();
    await consumer.stop();
    expect(lenient.warnings.some((w) => w.includes(`topic "${topic}" has replication factor 1`))).toBe(true);

    const strict = consumerOf(true, recorder().logger);
    const error = await strict.start().catch((e: unknown) => e);
    await strict.stop();
    expect(error).toBeInstanceOf(ReplicationError);
    expect((error as Error).message).toContain(`topic "${topic}" has replication factor 1`);
  });

  it('checks the topics the outbox holds rows for when a relay starts', async () => {
    const schema = uniqueName('repr');
    const topic = uniqueName('rep.paid');
    await migrate(db.knex, { schema });
    await createTopic(kafka, topic, 1);
    await db.knex.transaction((trx) => new OutboxWriter({ schema }).enqueue(trx, { topic, key: 'k', payload: {} }));

    const lenient = recorder();
    const relay = new Relay({ knex: db.knex, schema, publisher: new KafkaPublisher(kafka), logger: lenient.logger, leaseMs: 3_000 });
    await relay.start();
    await relay.stop();
    expect(lenient.warnings.some((w) => w.includes(`topic "${topic}" has replication factor 1`))).toBe(true);

    const strict = new Relay({ knex: db.knex, schema, publisher: new KafkaPublisher(kafka), strictReplication: true, leaseMs: 3_000 });
    const error = await strict.start().catch((e: unknown) => e);
    await strict.stop();
    expect(error).toBeInstanceOf(ReplicationError);
    expect((error as Error).message).toContain(`topic "${topic}"`);
  });
});
