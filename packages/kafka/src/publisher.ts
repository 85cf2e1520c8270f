import type { OutgoingRecord, Publisher, RawRecordParts, TopicFacts } from '@onceflow/core';
import { assertPeerVersion, intOption } from '@onceflow/core';
import type { IHeaders, Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { BrokerProbe } from './broker-probe.ts';
import { retryOptions } from './config.ts';
import { kafkaErrorType, toPublishError } from './errors.ts';
import { TopicInspector } from './topic-inspector.ts';

/** Broker answers that mean the producer's id or sequence state is stale. */
const SEQUENCE_FAULTS = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
]);

/** Options of {@link KafkaPublisher}. */
export interface KafkaPublisherOptions {
  /** Retries of kafkajs's request loop per publish, before our own backoff takes over. @defaultValue 5 */
  retries?: number;
  /** Broker-side wait for all in-sync replicas. @defaultValue 30000 */
  ackTimeoutMs?: number;
}

/**
 * Publishes through an idempotent kafkajs producer with acks from all in-sync replicas and
 * one request in flight per broker, so a retried request can neither duplicate nor reorder
 * records. Keys map to partitions with kafkajs's default, Java-compatible murmur2 partitioner.
 */
export class KafkaPublisher implements Publisher {
  readonly #createProducer: () => Producer;
  #producer: Producer;
  readonly #ackTimeoutMs: number;
  #connected = false;
  #wanted = false;
  readonly #probe: BrokerProbe;
  readonly #inspector: TopicInspector;

  constructor(kafka: Kafka, options: KafkaPublisherOptions = {}) {
    assertPeerVersion('kafkajs');
    this.#ackTimeoutMs = intOption('ackTimeoutMs', options.ackTimeoutMs, 30_000, 1);
    const retry = retryOptions(intOption('retries', options.retries, 5, 1, 1_000));
    this.#createProducer = () =>
      kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: true,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry,
      });
    this.#producer = this.#createProducer();
    this.#probe = new BrokerProbe(kafka);
    this.#inspector = new TopicInspector(kafka);
  }

  /** Resolves when a broker answers a metadata request now (readiness). */
  check(): Promise<void> {
    return this.#probe.check();
  }

  /** Replication, `min.insync.replicas` and record size limit of those of `topics` that exist. */
  describeTopics(topics: readonly string[]): Promise<TopicFacts[]> {
    return this.#inspector.describe(topics);
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
    // A producer replaced after a sequence fault is connected again on first use.
    if (!this.#connected && this.#wanted) await this.connect();
    const producer = this.#producer;
    try {
      await producer.sendBatch({ topicMessages: [...byTopic.values()], acks: -1, timeout: this.#ackTimeoutMs });
    } catch (error) {
      if (SEQUENCE_FAULTS.has(kafkaErrorType(error) ?? '')) this.#replace(producer);
      throw toPublishError(error, byTopic.size === 1 ? records[0]?.topic : undefined);
    }
  }

  /**
   * After a broker restart or a send that failed half-way, kafkajs's idempotent producer can
   * keep sequence numbers the broker no longer agrees with and then fails every send with
   * OUT_OF_ORDER_SEQUENCE_NUMBER. A new producer gets a new producer id and starts its
   * sequences afresh; records the old one may have written are then sent again (duplicates,
   * which consumers drop by id), never lost.
   */
  #replace(failed: Producer): void {
    if (this.#producer !== failed) return;
    this.#producer = this.#createProducer();
    this.#connected = false;
    void failed.disconnect().catch(() => undefined);
  }

  async disconnect(): Promise<void> {
    this.#wanted = false;
    await this.#probe.close();
    await this.#inspector.close();
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
