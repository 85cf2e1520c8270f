// A consumer in its own process, for crash tests: `node test/support/consumer-worker.ts` with
// WORKER_CONFIG (JSON) in the environment. With killAfter > 0 it SIGKILLs itself from the
// `inbox:handled` hook of its killAfter-th message: right after that message's DB commit and
// before its offset commit. On SIGTERM it stops gracefully and prints its stats as JSON.
import type { ConsumedMessage } from '@onceflow/consumer';
import { InboxConsumer } from '@onceflow/consumer';
import { createKafka, defaultBrokers, KafkaSubscriber } from '@onceflow/kafka';
import type { Knex } from 'knex';
import knexFactory from 'knex';
import { connectMariadb } from './mariadb.ts';

interface WorkerConfig {
  databaseUrl: string;
  /** The test database's dialect; on MySQL the database named by `schema`. @defaultValue 'postgres' */
  dialect?: 'postgres' | 'mysql';
  /** The Onceflow schema. @defaultValue "onceflow" */
  schema?: string;
  topic: string;
  groupId: string;
  consumerName: string;
  table: string;
  killAfter: number;
}

const config = JSON.parse(process.env.WORKER_CONFIG ?? '{}') as WorkerConfig;
const knex =
  config.dialect === 'mysql'
    ? connectMariadb(config.schema, 6)
    : knexFactory({ client: 'pg', connection: config.databaseUrl, pool: { min: 0, max: 6 } });
const kafka = createKafka({ brokers: defaultBrokers(), clientId: 'consumer-worker', retries: 8 });
const subscriber = new KafkaSubscriber(kafka, {
  groupId: config.groupId,
  topics: [config.topic],
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 500,
  rebalanceTimeoutMs: 10_000,
  maxWaitTimeMs: 50,
});
const consumer = new InboxConsumer<{ key: string; seq: number }>({
  knex,
  ...(config.schema === undefined ? {} : { schema: config.schema }),
  subscriber,
  consumerName: config.consumerName,
  concurrency: 4,
  handler: async (m: ConsumedMessage<{ key: string; seq: number }>, trx: Knex.Transaction) => {
    await trx(config.table).insert({ key: m.payload.key, seq: m.payload.seq, dedup_key: m.idempotencyKey });
  },
});

let handled = 0;
consumer.events.on('inbox:handled', () => {
  handled++;
  if (config.killAfter > 0 && handled >= config.killAfter) process.kill(process.pid, 'SIGKILL');
});

process.on('SIGTERM', () => {
  void (async () => {
    await consumer.stop();
    await knex.destroy();
    process.stdout.write(`${JSON.stringify(consumer.stats())}\n`);
    process.exit(0);
  })();
});

await consumer.start();
process.stdout.write('ready\n');
