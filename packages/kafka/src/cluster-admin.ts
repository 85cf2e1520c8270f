import type { TopicFacts } from '@onceflow/core';
import type { Admin, ConfigResourceTypes, Kafka } from 'kafkajs';
import { toPublishError } from './errors.ts';

// kafkajs's ConfigResourceTypes.TOPIC; Node's ESM loader cannot see that CommonJS export by name.
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

/**
 * The one admin client of a publisher or subscriber: it answers readiness checks (does a broker
 * answer now?) and reads what the cluster says about topics (replication factor,
 * `min.insync.replicas`, `max.message.bytes`). Topics that do not exist yet are left out of the
 * answer and never created by asking: the list of topics is read first. After a failure the
 * client is dropped, so the next call connects afresh.
 */
export class ClusterAdmin {
  readonly #kafka: Kafka;
  #admin: Admin | undefined;
  #checking: Promise<void> | undefined;

  constructor(kafka: Kafka) {
    this.#kafka = kafka;
  }

  /** Resolves when a broker answers a metadata request now; concurrent checks share one request. */
  check(): Promise<void> {
    this.#checking ??= this.#ask(async (admin) => {
      await admin.describeCluster();
    }).finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  /** Facts of those of `topics` that exist; rejects with a PublishError when the cluster cannot answer. */
  async describe(topics: readonly string[]): Promise<TopicFacts[]> {
    const wanted = [...new Set(topics)];
    if (wanted.length === 0) return [];
    return this.#ask(async (admin) => {
      const existing = new Set(await admin.listTopics());
      const present = wanted.filter((t) => existing.has(t));
      if (present.length === 0) return [];
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: present });
      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: present.map((name) => ({
          type: TOPIC_RESOURCE,
          name,
          configNames: ['min.insync.replicas', 'max.message.bytes'],
        })),
      });
      return present.map((topic) => {
        const partitions = metadata.find((m) => m.name === topic)?.partitions ?? [];
        const entries = configs.resources.find((r) => r.resourceName === topic)?.configEntries ?? [];
        const value = (name: string) => Number(entries.find((e) => e.configName === name)?.configValue ?? Number.NaN);
        return {
          topic,
          replicationFactor: partitions.length === 0 ? 0 : Math.min(...partitions.map((p) => p.replicas.length)),
          minInsyncReplicas: value('min.insync.replicas'),
          maxMessageBytes: value('max.message.bytes'),
        };
      });
    });
  }

  /** Runs `work` on the connected admin client; a failure drops the client and is a PublishError. */
  async #ask<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
    this.#admin ??= this.#kafka.admin({ retry: { retries: 1 } });
    const admin = this.#admin;
    try {
      await admin.connect();
      return await work(admin);
    } catch (error) {
      await this.close();
      throw toPublishError(error);
    }
  }

  /** Disconnects the admin client; the next call connects again. */
  async close(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }
}
