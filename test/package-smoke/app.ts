// Package smoke test, TypeScript: a strict service compiles against the published declarations
// (tsc --noEmit under module nodenext and under moduleResolution bundler, skipLibCheck false).
import type { ConsumedMessage, InboxConsumerOptions } from '@onceflow/consumer';
import { DeadLetters, InboxConsumer } from '@onceflow/consumer';
import { OnceflowError, SchemaVersionError } from '@onceflow/core';
import { createKafka, KafkaPublisher, KafkaSubscriber, ThreadedKafkaPublisher } from '@onceflow/kafka';
import { migrations } from '@onceflow/migrations';
import type { EnqueuedMessage } from '@onceflow/producer';
import { OutboxWriter } from '@onceflow/producer';
import type { RelayOptions } from '@onceflow/relay';
import { migrate, onceflowKnexfile, Relay, runRelayProcess } from '@onceflow/relay';
import { checkIdempotency } from '@onceflow/testing';
import type { Knex } from 'knex';
import knexFactory from 'knex';

interface OrderPaid {
  orderId: string;
  points: number;
}

export async function service(databaseUrl: string): Promise<EnqueuedMessage> {
  const knex: Knex = knexFactory({ client: 'pg', connection: databaseUrl });
  await migrate(knex, { schema: 'onceflow' });
  const outbox = new OutboxWriter({ knex });
  const sent = await knex.transaction((trx) =>
    outbox.enqueue(trx, { topic: 'orders.paid', key: 'ORD-1', idempotencyKey: 'payment:1', payload: { orderId: 'ORD-1', points: 10 } }),
  );
  const kafka = createKafka({ clientId: 'app' });
  const relayOptions: RelayOptions = { knex, publisher: new KafkaPublisher(kafka) };
  const relay = new Relay(relayOptions);
  const options: InboxConsumerOptions<OrderPaid> = {
    knex,
    consumerName: 'rewards',
    subscriber: new KafkaSubscriber(kafka, { groupId: 'rewards', topics: ['orders.paid'] }),
    handler: async (message: ConsumedMessage<OrderPaid>, trx: Knex.Transaction) => {
      await trx('rewards').insert({ order_id: message.payload.orderId, points: message.payload.points });
    },
  };
  const consumer = new InboxConsumer(options);
  await relay.start();
  await consumer.start();
  await consumer.stop();
  await relay.stop();
  const letters = await new DeadLetters({ knex }).list({ limit: 10 });
  const names: string[] = migrations.map((m) => m.name);
  const config: Knex.Config = await onceflowKnexfile({ client: 'pg', connection: databaseUrl });
  void [letters, names, config, checkIdempotency, runRelayProcess, ThreadedKafkaPublisher];
  return sent;
}

export function describe(error: unknown): string {
  if (error instanceof SchemaVersionError) return `schema at ${error.found ?? 'none'}, needs ${error.expected}`;
  return error instanceof OnceflowError ? `${error.code}: ${error.message}` : String(error);
}
