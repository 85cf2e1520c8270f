import type { TopicFacts } from '@onceflow/core';
import type { Admin, ConfigResourceTypes, Kafka } from 'kafkajs';
import { toPublishError } from './errors.ts';

// kafkajs's ConfigResourceTypes.TOPIC; Node's ESM loader cannot see that CommonJS export by name.
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

/**
 * Reads what the cluster says about topics (replication factor, `min.insync.replicas`,
 * `max.message.bytes`) through an admin client of its own. Topics that do not exist yet are
 * left out of the answer and never created by asking: the list of topics is read first.
 */
export class TopicInspector {
  readonly #kafka: Kafka;
  #admin: Admin | undefined;

  constructor(kafka: Kafka) {
    this.#kafka = kafka;
  }

  /** Facts of those of `topics` that exist; rejects with a PublishError when the cluster cannot answer. */
  async describe(topics: readonly string[]): Promise<TopicFacts[]> {
    const wanted = [...new Set(topics)];
    if (wanted.length === 0) return [];
    this.#admin ??= this.#kafka.admin({ retry: { retries: 1 } });
    const admin = this.#admin;
    try {
      await admin.connect();
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
