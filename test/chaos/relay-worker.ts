import { createJsonLogger } from '@onceflow/core';
import { createKafka, KafkaPublisher } from '@onceflow/kafka';
import { Relay } from '@onceflow/relay';
import { connectAs, log, readWorkerConfig, report, sleep, superviseWorker } from './worker-io.ts';

/** Configuration of one relay process. */
export interface RelayWorkerConfig {
  dbUrl: string;
  /** The Onceflow schema (on MySQL the run's database). */
  schema: string;
  /** Process name, e.g. `relay-1`; with the generation it makes the relay id. */
  name: string;
  generation: number;
  leaseMs: number;
  pollIntervalMs: number;
  batchSize: number;
}

const config = readWorkerConfig<RelayWorkerConfig>();
const knex = connectAs(config.dbUrl, `chaos-${config.name}`, 5);
const logger = createJsonLogger('warn', { process: config.name, generation: config.generation });
let relay: Relay | undefined;
let started = false;
let stopping = false;

superviseWorker(async () => {
  stopping = true;
  if (relay !== undefined) {
    await relay.stop();
    report('stopped', { started, stats: relay.stats() });
  }
  await knex.destroy();
});

// Like an orchestrator restarting a crashed service: a start that fails (the broker or the
// database is down at this moment) is retried, it does not end the process.
for (let attempt = 1; !stopping; attempt++) {
  const candidate = new Relay({
    knex,
    schema: config.schema,
    publisher: new KafkaPublisher(createKafka({ clientId: `chaos-${config.name}`, retries: 5, logger })),
    relayId: `${config.name}-g${config.generation}-${process.pid}`,
    leaseMs: config.leaseMs,
    pollIntervalMs: config.pollIntervalMs,
    batchSize: config.batchSize,
    // Broker outages never count as attempts; a record failing this often is a finding.
    maxAttempts: 1_000,
    minBackoffMs: 100,
    maxBackoffMs: 2_000,
    // The checker reads published rows back; keep them.
    retentionMs: 0,
    logger,
  });
  // Known before start() returns, so a SIGTERM during a slow start stops it too.
  relay = candidate;
  try {
    await candidate.start();
    started = true;
    break;
  } catch (error) {
    log('relay start failed; retrying', { attempt, error });
    await candidate.stop().catch(() => undefined);
    await sleep(1_000);
  }
}
if (started && relay !== undefined) {
  relay.events.on('relay:error', ({ error, during }) => log('relay:error', { during, error }));
  relay.events.on('relay:dead', ({ id, topic, key, attempts, error }) => log('relay:dead', { id, topic, key, attempts, error }));
  report('ready');
  setInterval(() => report('stats', { stats: relay?.stats() }), 5_000).unref();
}
