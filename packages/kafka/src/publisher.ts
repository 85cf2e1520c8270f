import type { OutgoingRecord, Publisher } from '@onceflow/core';
import { intOption } from '@onceflow/core';
import type { Kafka, Producer, TopicMessages } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { retryOptions } from './config.ts';
import { toPublishError } from './errors.ts';

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
  readonly #producer: Producer;
  readonly #ackTimeoutMs: number;
  #connected = false;

  constructor(kafka: Kafka, options: KafkaPublisherOptions = {}) {
    this.#ackTimeoutMs = intOption('ackTimeoutMs', options.ackTimeoutMs, 30_000, 1);
    this.#producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: retryOptions(intOption('retries', options.retries, 5, 1, 1_000)),
    });
  }

  async connect(): Promise<void> {
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
      group.messages.push({ key: r.key, value: r.value, headers: { ...r.headers } });
    }
    try {
      await this.#producer.sendBatch({ topicMessages: [...byTopic.values()], acks: -1, timeout: this.#ackTimeoutMs });
    } catch (error) {
      throw toPublishError(error, byTopic.size === 1 ? records[0]?.topic : undefined);
    }
  }

  async disconnect(): Promise<void> {
    if (!this.#connected) return;
    this.#connected = false;
    await this.#producer.disconnect();
  }
}
