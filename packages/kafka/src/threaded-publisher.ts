import { Worker } from 'node:worker_threads';
import type { Logger, OutgoingRecord, Publisher, TopicFacts } from '@onceflow/core';
import { assertPeerVersion, OptionError, PublishError, silentLogger } from '@onceflow/core';
import { ClusterAdmin } from './cluster-admin.ts';
import type { KafkaConnectionOptions } from './config.ts';
import { createKafka } from './config.ts';
import { toPublishError } from './errors.ts';
import type { KafkaPublisherOptions } from './options.ts';
import { resolveKafkaPublisherOptions } from './options.ts';
import type { PackedRecords, ThreadReply, ThreadRequest, ThreadSetup } from './thread-protocol.ts';
import { deserializeError, packRecords, transferList } from './thread-protocol.ts';

/** Options of {@link ThreadedKafkaPublisher}. */
export interface ThreadedKafkaPublisherOptions extends KafkaPublisherOptions {
  /**
   * How to reach Kafka. Everything but `logger` crosses to the thread by structured clone, so
   * it must be plain data (no functions, e.g. no OAuth token provider); `logger` stays in this
   * thread and receives the thread's log lines. @defaultValue `{}`
   */
  connection?: KafkaConnectionOptions;
}

type Pending = { resolve: () => void; reject: (error: Error) => void };

/** One worker thread and the calls it has not answered yet. */
interface Thread {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  /** Set by disconnect: the thread's end is expected, not a failure. */
  stopping: boolean;
  /** Set once the thread's end was handled (an `error` event is followed by `exit`). */
  ended: boolean;
}

// Run from sources (Node's type stripping, vitest) the thread is a .ts file; built, a .js one.
const THREAD_URL = new URL(import.meta.url.endsWith('.ts') ? './publisher-thread.ts' : './publisher-thread.js', import.meta.url);

let workerOf: (publisher: ThreadedKafkaPublisher) => Worker | undefined;

/**
 * A {@link KafkaPublisher} that runs in a worker thread of its own. Encoding Kafka records
 * costs kafkajs more CPU than anything else the relay does, and on the main thread it would
 * take turns with reading and marking outbox rows; in its own thread it runs beside them.
 * Same guarantees as KafkaPublisher (acks from all in-sync replicas, one
 * request in flight); records cross in one transferred buffer per batch.
 *
 * If the thread dies, every publish in flight fails as a broker-wide, retriable error (the
 * relay keeps those rows pending and charges no attempt) and the next call starts a new thread.
 * The thread holds the process open only while a call is in flight, and `disconnect()` ends it;
 * a publish after `disconnect()` starts a new one.
 */
export class ThreadedKafkaPublisher implements Publisher {
  readonly #setup: ThreadSetup;
  readonly #logger: Logger;
  #thread: Thread | undefined;
  #nextId = 1;
  readonly #admin: ClusterAdmin;

  static {
    workerOf = (publisher) => publisher.#thread?.worker;
  }

  /** Checks the options here (not first in the thread) so bad ones fail at construction. */
  constructor(options: ThreadedKafkaPublisherOptions = {}) {
    assertPeerVersion('kafkajs');
    const { connection = {}, ...rest } = options;
    const publisher = resolveKafkaPublisherOptions(rest);
    const { logger, ...plain } = connection;
    this.#logger = logger ?? silentLogger;
    this.#setup = { connection: plain, publisher };
    try {
      structuredClone(this.#setup);
    } catch {
      // The clone error's text quotes the offending value (a function's source, which may hold
      // a secret): name where it is instead, and show only its kind.
      const [option, value] = uncloneable(this.#setup, '') ?? ['connection', connection];
      throw new OptionError(option, value, 'plain data that can cross to a worker thread (no functions, class instances or symbols)');
    }
    // Throws an OptionError naming a bad broker list, timeout or retry count; connects nothing.
    this.#admin = new ClusterAdmin(createKafka(plain));
  }

  /** Resolves when a broker answers a metadata request now (readiness); asked from this thread. */
  check(): Promise<void> {
    return this.#admin.check();
  }

  /** Replication, `min.insync.replicas` and record size limit of those of `topics` that exist; asked from this thread. */
  describeTopics(topics: readonly string[]): Promise<TopicFacts[]> {
    return this.#admin.describe(topics);
  }

  /** Starts the thread if none runs and connects its producer. */
  async connect(): Promise<void> {
    await this.#call((id) => ({ op: 'connect', id }));
  }

  /**
   * Publishes through the thread (connecting it first if needed); resolves once the broker
   * acknowledged every record, as {@link KafkaPublisher.publish} does.
   */
  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    let batch: PackedRecords;
    try {
      batch = packRecords(records);
    } catch (error) {
      // What kafkajs's encoder would have refused in the main thread (e.g. a value that is no Buffer).
      throw toPublishError(error, records[0]?.topic);
    }
    await this.#call((id) => ({ op: 'publish', id, batch }), transferList(batch));
  }

  /** Disconnects the producer and ends the thread; without a thread it does nothing. */
  async disconnect(): Promise<void> {
    await this.#admin.close();
    const thread = this.#thread;
    if (thread === undefined) return;
    // Calls from now on start a new thread; calls still in flight on this one fail as retriable.
    this.#thread = undefined;
    thread.stopping = true;
    try {
      await this.#send(thread, (id) => ({ op: 'disconnect', id }));
    } finally {
      await thread.worker.terminate();
    }
  }

  #call(request: (id: number) => ThreadRequest, transfer: ArrayBuffer[] = []): Promise<void> {
    this.#thread ??= this.#start();
    return this.#send(this.#thread, request, transfer);
  }

  #send(thread: Thread, request: (id: number) => ThreadRequest, transfer: ArrayBuffer[] = []): Promise<void> {
    if (thread.ended) return Promise.reject(threadStopped('it had already stopped'));
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      // Only calls in flight keep the process alive: an idle publisher never holds it open.
      if (thread.pending.size === 0) thread.worker.ref();
      thread.pending.set(id, { resolve, reject });
      try {
        thread.worker.postMessage(request(id), transfer);
      } catch (error) {
        this.#settled(thread, id);
        reject(toPublishError(error));
      }
    });
  }

  #settled(thread: Thread, id: number): Pending | undefined {
    const pending = thread.pending.get(id);
    thread.pending.delete(id);
    if (thread.pending.size === 0 && !thread.ended) thread.worker.unref();
    return pending;
  }

  #start(): Thread {
    const worker = new Worker(THREAD_URL, { workerData: this.#setup, name: 'onceflow-kafka-publisher', execArgv: threadExecArgv() });
    const thread: Thread = { worker, pending: new Map(), stopping: false, ended: false };
    worker.on('message', (reply: ThreadReply) => this.#onReply(thread, reply));
    worker.on('error', (error: unknown) => this.#onEnd(thread, error instanceof Error ? error : new Error(String(error))));
    // A reply that cannot be deserialised leaves its call unanswered: end the thread, which fails it.
    worker.on('messageerror', (error) => this.#onEnd(thread, error));
    worker.on('exit', (code) => this.#onEnd(thread, new Error(`the thread exited with code ${code}`)));
    return thread;
  }

  #onReply(thread: Thread, reply: ThreadReply): void {
    if (reply.kind === 'log') {
      this.#logger[reply.level](reply.fields, reply.message);
      return;
    }
    const pending = this.#settled(thread, reply.id);
    if (pending === undefined) return;
    if (reply.kind === 'done') pending.resolve();
    else pending.reject(deserializeError(reply.error));
  }

  /** The thread died (an uncaught error, process.exit in it) or was terminated. */
  #onEnd(thread: Thread, cause: Error): void {
    if (thread.ended) return;
    thread.ended = true;
    if (this.#thread === thread) this.#thread = undefined;
    // After 'error' the thread is ending anyway; after 'messageerror' it would run on, unowned.
    void thread.worker.terminate();
    if (!thread.stopping) {
      this.#logger.error(
        { error: cause, inFlight: thread.pending.size },
        'Kafka publisher thread stopped; a new one starts on the next call',
      );
    }
    const error = threadStopped(cause.message, cause);
    for (const pending of thread.pending.values()) pending.reject(error);
    thread.pending.clear();
  }
}

/** The path (`connection.sasl.oauthBearerProvider`) and value of the first part that cannot be cloned. */
function uncloneable(value: unknown, path: string, depth = 0): [string, unknown] | undefined {
  if (typeof value === 'function' || typeof value === 'symbol') return [path, value];
  if (value === null || typeof value !== 'object' || depth > 10) return undefined;
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return undefined;
  for (const [name, inner] of Object.entries(value)) {
    const found = uncloneable(inner, path === '' ? name : `${path}.${name}`, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The thread inherits Node's options, except `--input-type` (of a process started with
 * `node --input-type=module -e ...`), which Node refuses for a thread that runs a file.
 */
function threadExecArgv(): string[] {
  const argv: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const arg = process.execArgv[i] as string;
    if (arg === '--input-type') i++;
    else if (!arg.startsWith('--input-type=')) argv.push(arg);
  }
  return argv;
}

function threadStopped(why: string, cause?: Error): PublishError {
  return new PublishError(`The Kafka publisher thread stopped (${why}); retry the publish, which starts a new thread`, {
    retriable: true,
    scope: 'broker',
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * The worker thread a publisher runs now, if any. For tests that end the thread to prove
 * recovery; not exported from the package index.
 * @internal
 */
export function publisherThreadOf(publisher: ThreadedKafkaPublisher): Worker | undefined {
  return workerOf(publisher);
}
