import type { OutgoingRecord, Publisher, RawRecordParts, TopicFacts } from '@onceflow/core';
import { assertPeerVersion, RetryPolicy, RetryStopped } from '@onceflow/core';
import type { IHeaders, Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { ClusterAdmin } from './cluster-admin.ts';
import { retryOptions } from './config.ts';
import { toPublishError } from './errors.ts';
import type { KafkaPublisherOptions, ResolvedKafkaPublisherOptions } from './options.ts';
import { resolveKafkaPublisherOptions } from './options.ts';

/**
 * Publishes through a kafkajs producer with acks from all in-sync replicas and one request in
 * flight per broker. Keys map to partitions with kafkajs's default, Java-compatible murmur2
 * partitioner.
 *
 * The producer is deliberately not idempotent. kafkajs 2.2.4's idempotent producer, when a
 * request fails for one partition, rolls back the sequence numbers of every partition in that
 * request, also of those the broker already wrote; the next send reuses the numbers, and the
 * broker acknowledges it as a duplicate without writing it. On a replicated cluster, where a
 * leader change fails some partitions of a request and not others, that lost acknowledged
 * records (found by `pnpm chaos --cluster`). Without idempotence a retried request can write a
 * record twice, which the consumers' inbox skips; per-key order holds because one key's records
 * are in flight in one relay lane only, one batch at a time.
 */
export class KafkaPublisher implements Publisher {
  /** The options in force, defaults applied. */
  readonly options: ResolvedKafkaPublisherOptions;
  readonly #producer: Producer;
  readonly #ackTimeoutMs: number;
  /** Sends of a failed batch, whole: 100-200 ms before the second, doubling up to 1-2 s. */
  readonly #sendRetry: RetryPolicy;
  #connected = false;
  #wanted = false;
  readonly #admin: ClusterAdmin;

  constructor(kafka: Kafka, options: KafkaPublisherOptions = {}) {
    assertPeerVersion('kafkajs');
    this.options = resolveKafkaPublisherOptions(options);
    this.#ackTimeoutMs = this.options.ackTimeoutMs;
    this.#sendRetry = new RetryPolicy({ maxAttempts: this.options.retries + 1, minDelayMs: 200, maxDelayMs: 2_000 });
    // kafkajs's own retry of a send stays off (see `retries`); publish() retries whole sends.
    const retry = retryOptions(0);
    this.#producer = kafka.producer({
      idempotent: false,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry,
    });
    this.#admin = new ClusterAdmin(kafka);
  }

  /** Resolves when a broker answers a metadata request now (readiness). */
  check(): Promise<void> {
    return this.#admin.check();
  }

  /** Replication, `min.insync.replicas` and record size limit of those of `topics` that exist. */
  describeTopics(topics: readonly string[]): Promise<TopicFacts[]> {
    return this.#admin.describe(topics);
  }

  async connect(): Promise<void> {
    this.#wanted = true;
    if (this.#connected) return;
    try {
      await this.#producer.connect();
      this.#connected = true;
    } catch (error) {
      throw toPublishError(error);
    }
  }

  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    const byTopic = new Map<string, TopicMessages>();
    for (const r of records) {
      let group = byTopic.get(r.topic);
      if (group === undefined) {
        group = { topic: r.topic, messages: [] };
        byTopic.set(r.topic, group);
      }
      group.messages.push(r.raw === undefined ? { key: r.key, value: r.value, headers: { ...r.headers } } : rawMessage(r.raw));
    }
    if (!this.#connected && this.#wanted) await this.connect();
    const topicMessages = [...byTopic.values()];
    try {
      await this.#sendRetry.run(async () => {
        try {
          // A fresh sendBatch each time: every partition of the batch is sent again.
          await this.#producer.sendBatch({ topicMessages, acks: -1, timeout: this.#ackTimeoutMs });
        } catch (error) {
          throw toPublishError(error, byTopic.size === 1 ? records[0]?.topic : undefined);
        }
      });
    } catch (error) {
      // The caller sees the send's own failure (a PublishError), as before there were retries.
      throw error instanceof RetryStopped ? error.cause : error;
    }
  }

  async disconnect(): Promise<void> {
    this.#wanted = false;
    await this.#admin.close();
    if (!this.#connected) return;
    this.#connected = false;
    await this.#producer.disconnect();
  }
}

/** A kafkajs message of exactly these bytes; kafkajs writes a repeated name's values in order. */
function rawMessage(raw: RawRecordParts): Message {
  const headers: Record<string, Buffer[]> = {};
  for (const [name, value] of raw.headers) {
    const values = headers[name] ?? [];
    values.push(value as Buffer);
    headers[name] = values;
  }
  // A null value is written as Kafka's null header value (length -1) by kafkajs's encoder.
  return { key: raw.key, value: raw.value, headers: headers as IHeaders };
}
