import { InboxConsumer } from '@onceflow/consumer';
import { createJsonLogger, FatalHandlerError } from '@onceflow/core';
import { createKafka, KafkaSubscriber } from '@onceflow/kafka';
import type { Knex } from 'knex';
import { chaosSqlFor } from './chaos-sql.ts';
import type { ChaosPayload } from './tables.ts';
import { connectAs, log, readWorkerConfig, report, sleep, superviseWorker } from './worker-io.ts';

/** Configuration of one consumer process (a member of the run's group). */
export interface ConsumerWorkerConfig {
  dbUrl: string;
  /** The Onceflow schema (on MySQL the run's database). */
  schema: string;
  /** Process name, e.g. `consumer-3`. */
  name: string;
  generation: number;
  groupId: string;
  topics: string[];
  consumerName: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  concurrency: number;
  maxAttempts: number;
  /**
   * A deliberate bug, to prove the checker catches it: `dedup-by-offset` dedups on the Kafka
   * record instead of the message, so every re-published copy takes effect again.
   */
  sabotage?: 'dedup-by-offset';
}

const config = readWorkerConfig<ConsumerWorkerConfig>();
const knex = connectAs(config.dbUrl, `chaos-${config.name}`, 6);
const sql = chaosSqlFor(knex);
const logger = createJsonLogger('warn', { process: config.name, generation: config.generation });
let consumer: InboxConsumer | undefined;
let started = false;
let stopping = false;

superviseWorker(async () => {
  stopping = true;
  if (consumer !== undefined) {
    await consumer.stop();
    report('stopped', { started, stats: consumer.stats() });
  }
  // As a service should: closing the pool waits for every connection in use, and a transaction
  // that stop() gave up on may wait for locks of a frozen process. Its rollback is the server's
  // job once the process is gone; nothing is lost (its offsets were not committed).
  await Promise.race([knex.destroy(), sleep(5_000)]);
});

/**
 * The effect: lock the key's balance row (so one key's effects form a chain in commit order),
 * record the sequence applied before this one, and move the balance on. Poison always fails.
 */
async function handle(payload: ChaosPayload, topic: string, key: string | null, messageId: string | undefined, trx: Knex.Transaction) {
  if (payload.poison) throw new FatalHandlerError(`planted poison message ${payload.ik}`);
  if (key !== payload.key) throw new FatalHandlerError(`record key ${key} differs from the payload's key ${payload.key} (${payload.ik})`);
  const prev = await sql.lockBalance(trx, topic, key);
  if (prev === undefined) throw new FatalHandlerError(`no balance row for ${topic}/${key}`);
  // These two are the same on PostgreSQL and MySQL.
  await trx.raw('update chaos_balance set last_seq = ?, applied = applied + 1 where topic = ? and msg_key = ?', [payload.seq, topic, key]);
  await trx.raw('insert into chaos_ledger (ik, message_id, topic, msg_key, key_seq, prev_seq, consumer) values (?, ?, ?, ?, ?, ?, ?)', [
    payload.ik,
    messageId ?? null,
    topic,
    key,
    payload.seq,
    prev,
    config.name,
  ]);
}

for (let attempt = 1; !stopping; attempt++) {
  const kafka = createKafka({ clientId: `chaos-${config.name}`, retries: 5, logger });
  const candidate = new InboxConsumer<ChaosPayload>({
    knex,
    schema: config.schema,
    subscriber: new KafkaSubscriber(kafka, {
      groupId: config.groupId,
      topics: config.topics,
      sessionTimeoutMs: config.sessionTimeoutMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      rebalanceTimeoutMs: config.sessionTimeoutMs * 2,
    }),
    consumerName: config.consumerName,
    concurrency: config.concurrency,
    maxAttempts: config.maxAttempts,
    ...(config.sabotage === 'dedup-by-offset'
      ? { dedup: (m: { topic: string; partition: number; offset: string }) => `${m.topic}/${m.partition}@${m.offset}` }
      : {}),
    logger,
    handler: (message, trx) => handle(message.payload, message.topic, message.key, message.id, trx),
  });
  // Known before start() returns, so a SIGTERM during a slow start stops it too.
  consumer = candidate;
  try {
    await candidate.start();
    started = true;
    break;
  } catch (error) {
    log('consumer start failed; retrying', { attempt, error });
    await candidate.stop().catch(() => undefined);
    await sleep(1_000);
  }
}
if (started && consumer !== undefined) {
  consumer.events.on('inbox:error', ({ error, topic, partition }) => log('inbox:error', { topic, partition, error }));
  consumer.events.on('inbox:dead', ({ message, attempts, errors }) =>
    log('inbox:dead', { record: `${message.topic}/${message.partition}@${message.offset}`, attempts, errors }),
  );
  report('ready');
  setInterval(() => report('stats', { stats: consumer?.stats() }), 5_000).unref();
}
