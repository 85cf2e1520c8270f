// A relay or a consumer in a process of its own, for bench/e2e.ts, as they run in production.
// The consumer prints `<message id> <wall-clock ms> <Kafka record timestamp ms>` for each handled
// message, after its commit. `direct` is the baseline's consumer: a bare kafkajs consumer whose
// handler writes the same effect row with no inbox, with kafkajs's default auto-commit (after
// each fetched batch).
import { performance } from 'node:perf_hooks';
import { InboxConsumer } from '@onceflow/consumer';
import { createKafka, defaultBrokers, KafkaPublisher, KafkaSubscriber, ThreadedKafkaPublisher } from '@onceflow/kafka';
import { Relay } from '@onceflow/relay';
import { connectUrl } from './database.ts';

const [role, databaseUrl, topic, listen, lanes, publisherThread] = process.argv.slice(2);
if ((role !== 'relay' && role !== 'consumer' && role !== 'direct') || databaseUrl === undefined || topic === undefined) {
  process.stderr.write('usage: e2e-worker.ts relay|consumer|direct <database-url> <topic> [listen|poll] [lanes] [main|thread]\n');
  process.exit(2);
}
const { knex, schema } = connectUrl(databaseUrl, 12);
const connection = { brokers: defaultBrokers(), clientId: `bench-e2e-${role}`, retries: 8 };
const kafka = createKafka(connection);
let stop: () => Promise<void>;

/** Collects the handled-message lines and writes them to stdout every 20 ms. */
function lineWriter(): { add(id: string | undefined, timestamp: string): void; stop(): void } {
  let lines: string[] = [];
  const flush = setInterval(() => {
    if (lines.length === 0) return;
    process.stdout.write(`${lines.join('\n')}\n`);
    lines = [];
  }, 20);
  return {
    add: (id, timestamp) => lines.push(`${id} ${(performance.timeOrigin + performance.now()).toFixed(2)} ${timestamp}`),
    stop: () => clearInterval(flush),
  };
}

if (role === 'relay') {
  const relay = new Relay({
    knex,
    schema,
    publisher: publisherThread === 'thread' ? new ThreadedKafkaPublisher({ connection }) : new KafkaPublisher(kafka),
    listen: listen !== 'poll',
    pollIntervalMs: 500,
    ...(lanes === undefined ? {} : { concurrency: Number(lanes) }),
  });
  await relay.start();
  stop = () => relay.stop();
} else if (role === 'direct') {
  const consumer = kafka.consumer({ groupId: `${topic}_g`, maxWaitTimeInMs: 10 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const lines = lineWriter();
  await consumer.run({
    partitionsConsumedConcurrently: 4,
    eachMessage: async ({ message }) => {
      const id = message.headers?.id?.toString() ?? '';
      await knex.raw('insert into effects (id, n) values (?, 1)', [id]);
      lines.add(id, message.timestamp);
    },
  });
  stop = async () => {
    lines.stop();
    await consumer.disconnect();
  };
} else {
  const consumer = new InboxConsumer({
    knex,
    schema,
    consumerName: 'bench',
    subscriber: new KafkaSubscriber(kafka, {
      groupId: `${topic}_g`,
      topics: [topic],
      maxWaitTimeMs: 10,
      partitionsConsumedConcurrently: 4,
    }),
    handler: async (message, trx) => {
      await trx.raw('insert into effects (id, n) values (?, 1)', [message.id ?? '']);
    },
  });
  const lines = lineWriter();
  consumer.events.on('inbox:handled', ({ message }) => lines.add(message.id, message.timestamp));
  await consumer.start();
  stop = async () => {
    lines.stop();
    await consumer.stop();
  };
}
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void stop()
    .finally(() => knex.destroy())
    .finally(() => process.exit(0));
});
