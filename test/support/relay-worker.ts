// A relay process for fault tests: `node test/support/relay-worker.ts`, configured by
// DATABASE_URL (postgres:// or mysql://), KAFKA_BROKERS, ONCEFLOW_SCHEMA and RELAY_OPTIONS
// (JSON relay options).
// Prints "ready" on stdout once it holds its leases; SIGTERM stops it gracefully.
import { createJsonLogger } from '@onceflow/core';
import { createKafka, defaultBrokers, KafkaPublisher } from '@onceflow/kafka';
import { runRelayProcess } from '@onceflow/relay';

const relay = JSON.parse(process.env.RELAY_OPTIONS ?? '{}') as Record<string, unknown>;
const logger = createJsonLogger('info', { pid: process.pid });
const kafka = createKafka({ brokers: defaultBrokers(), clientId: `relay-worker-${process.pid}`, retries: 3, logger });
const running = await runRelayProcess({ publisher: new KafkaPublisher(kafka, { retries: 3 }), relay, logger });
process.stdout.write(`ready ${running.relay.options.relayId}\n`);
