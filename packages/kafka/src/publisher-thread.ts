// The worker side of ThreadedKafkaPublisher: a KafkaPublisher in a thread of its own.
import { parentPort, workerData } from 'node:worker_threads';
import type { LogFields, Logger } from '@onceflow/core';
import type { KafkaConnectionOptions } from './config.ts';
import { createKafka } from './config.ts';
import { KafkaPublisher } from './publisher.ts';
import type { ThreadLogLevel, ThreadReply, ThreadRequest, ThreadSetup } from './thread-protocol.ts';
import { serializeError, unpackRecords } from './thread-protocol.ts';

const port = parentPort;
if (port === null) throw new Error('publisher-thread.ts runs only as a worker thread of ThreadedKafkaPublisher');

const setup = workerData as ThreadSetup;

/** Log lines go to the owner's logger, in the main thread. */
function forwardingLogger(bound: LogFields = {}): Logger {
  const send = (level: ThreadLogLevel) => (fields: LogFields, message: string) => {
    const reply: ThreadReply = { kind: 'log', level, fields: plainFields({ ...bound, ...fields }), message };
    port?.postMessage(reply);
  };
  return {
    debug: send('debug'),
    info: send('info'),
    warn: send('warn'),
    error: send('error'),
    child: (scope) => forwardingLogger({ ...bound, ...scope }),
  };
}

/**
 * Log fields that survive postMessage: errors become their name, message and code, other
 * values cross as they are if the structured clone takes them, else as their string.
 */
function plainFields(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code;
      out[name] = { name: value.name, message: value.message, ...(code === undefined ? {} : { code: String(code) }) };
      continue;
    }
    try {
      out[name] = structuredClone(value);
    } catch {
      out[name] = String(value);
    }
  }
  return out;
}

const connection: KafkaConnectionOptions = { ...setup.connection, logger: forwardingLogger() };
const publisher = new KafkaPublisher(createKafka(connection), setup.publisher);

// Requests run concurrently (as on a KafkaPublisher in the main thread), so the calls that
// arrive at a fresh thread together must share one connect: two concurrent connects of one
// kafkajs producer would race each other.
let connecting: Promise<void> | undefined;
function connect(): Promise<void> {
  connecting ??= publisher.connect().catch((error: unknown) => {
    connecting = undefined;
    throw error;
  });
  return connecting;
}

async function handle(request: ThreadRequest): Promise<ThreadReply> {
  try {
    if (request.op === 'connect') await connect();
    else if (request.op === 'disconnect') {
      connecting = undefined;
      await publisher.disconnect();
    } else {
      // A thread started after another one died (or after disconnect) was never asked to
      // connect; the owner's publish connects it, as KafkaPublisher would reconnect.
      const records = unpackRecords(request.batch);
      await connect();
      await publisher.publish(records);
    }
    return { kind: 'done', id: request.id };
  } catch (error) {
    return { kind: 'failed', id: request.id, error: serializeError(error) };
  }
}

port.on('message', (request: ThreadRequest) => {
  void handle(request).then((reply) => port.postMessage(reply));
});
