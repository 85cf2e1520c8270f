import type { Logger, Publisher } from '@onceflow/core';

/** How long a topic's limit read from the cluster is trusted before it is read again. */
const TTL_MS = 60_000;

/**
 * The largest record each topic accepts. A fixed `maxRecordBytes` applies to every topic;
 * otherwise the limit is the topic's `max.message.bytes` as the publisher reads it from the
 * cluster (cached for a minute, as is not knowing it). A topic whose limit cannot be read (no such topic yet, a
 * publisher that cannot tell, the cluster not answering) has no entry: its rows are sent and
 * the broker judges them, and a refusal as too large is a non-retriable record failure.
 */
export class TopicLimits {
  readonly #publisher: Publisher;
  readonly #fixed: number | undefined;
  readonly #logger: Logger;
  readonly #known = new Map<string, { bytes: number | undefined; until: number }>();

  constructor(publisher: Publisher, fixed: number | undefined, logger: Logger) {
    this.#publisher = publisher;
    this.#fixed = fixed;
    this.#logger = logger;
  }

  /** The known limits of `topics`. Never rejects. */
  async of(topics: Iterable<string>): Promise<Map<string, number>> {
    const limits = new Map<string, number>();
    const now = performance.now();
    const stale: string[] = [];
    for (const topic of new Set(topics)) {
      if (this.#fixed !== undefined) {
        limits.set(topic, this.#fixed);
        continue;
      }
      const known = this.#known.get(topic);
      if (known === undefined || known.until <= now) stale.push(topic);
      else if (known.bytes !== undefined) limits.set(topic, known.bytes);
    }
    if (stale.length === 0 || this.#publisher.describeTopics === undefined) return limits;
    // Unknown answers are kept for the same time, so a topic not created yet is not asked about per batch.
    for (const topic of stale) this.#known.set(topic, { bytes: undefined, until: now + TTL_MS });
    try {
      for (const facts of await this.#publisher.describeTopics(stale)) {
        if (!Number.isSafeInteger(facts.maxMessageBytes) || facts.maxMessageBytes <= 0) continue;
        this.#known.set(facts.topic, { bytes: facts.maxMessageBytes, until: now + TTL_MS });
        limits.set(facts.topic, facts.maxMessageBytes);
      }
    } catch (error) {
      this.#logger.warn({ topics: stale, error }, 'Could not read the record size limit of topics; the broker will judge their records');
    }
    return limits;
  }
}
