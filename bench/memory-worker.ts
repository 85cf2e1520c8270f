// A relay or a consumer in a process of its own, for bench/memory.ts. Prints one JSON line a
// second on stdout: {"role","rss","heap","handled"}. Stops on SIGTERM.
import { InboxConsumer } from '@onceflow/consumer';
import { createKafka, defaultBrokers, KafkaPublisher, KafkaSubscriber } from '@onceflow/kafka';
import { Relay } from '@onceflow/relay';
import knexFactory from 'knex';

const [role, databaseUrl, topic] = process.argv.slice(2);
if ((role !== 'relay' && role !== 'consumer') || databaseUrl === undefined || topic === undefined) {
  process.stderr.write('usage: memory-worker.ts relay|consumer <database-url> <topic>\n');
  process.exit(2);
}
const knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 12 } });
const kafka = createKafka({ brokers: defaultBrokers(), clientId: `bench-memory-${role}`, retries: 8 });
let handled = 0;
let stop: () => Promise<void>;
if (role === 'relay') {
  const relay = new Relay({ knex, publisher: new KafkaPublisher(kafka) });
  relay.events.on('relay:batch:published', (e) => {
    handled += e.count;
  });
  await relay.start();
  stop = () => relay.stop();
} else {
  const consumer = new InboxConsumer({
    knex,
    consumerName: 'bench-memory',
    subscriber: new KafkaSubscriber(kafka, { groupId: `${topic}_g`, topics: [topic], partitionsConsumedConcurrently: 4 }),
    handler: async (message, trx) => {
      await trx.raw('insert into effects (id) values (?)', [message.id ?? '']);
    },
  });
  consumer.events.on('inbox:handled', () => {
    handled++;
  });
  await consumer.start();
  stop = () => consumer.stop();
}
const timer = setInterval(() => {
  const m = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ role, rss: m.rss, heap: m.heapUsed, handled })}\n`);
}, 1_000);
process.once('SIGTERM', () => {
  clearInterval(timer);
  void stop()
    .finally(() => knex.destroy())
    .finally(() => process.exit(0));
});
