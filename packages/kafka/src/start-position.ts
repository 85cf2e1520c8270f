import type { Logger, StartFrom, StartPosition } from '@onceflow/core';
import { OptionError, StartPositionError } from '@onceflow/core';
import type { Admin, Kafka } from 'kafkajs';
import { retryOptions } from './config.ts';

/** The start a subscriber was given, validated. */
export interface ResolvedStart {
  /** What the user chose; undefined when they chose nothing. */
  readonly chosen: StartFrom | undefined;
  /** kafkajs's `fromBeginning` for a partition without a committed offset once the group runs. */
  readonly fromBeginning: boolean;
}

/**
 * Validates `startFrom` and the older `fromBeginning` (`true` is `'earliest'`, `false` is
 * `'latest'`); at most one of them may be given. With neither, nothing is chosen and a new
 * group reads from the earliest offset, as before `startFrom` existed.
 */
export function resolveStartFrom(startFrom: unknown, fromBeginning: unknown): ResolvedStart {
  if (startFrom !== undefined && fromBeginning !== undefined) {
    throw new OptionError('startFrom', startFrom, 'startFrom or fromBeginning, not both (fromBeginning: true is startFrom: "earliest")');
  }
  if (fromBeginning !== undefined) {
    if (typeof fromBeginning !== 'boolean') throw new OptionError('fromBeginning', fromBeginning, 'a boolean');
    return { chosen: fromBeginning ? 'earliest' : 'latest', fromBeginning };
  }
  if (startFrom === undefined) return { chosen: undefined, fromBeginning: true };
  if (startFrom === 'earliest') return { chosen: 'earliest', fromBeginning: true };
  // A partition that appears after 'latest' was settled (a topic created later) starts at its
  // end too, as kafkajs's fromBeginning: false did before.
  if (startFrom === 'latest') return { chosen: 'latest', fromBeginning: false };
  const at = startFrom instanceof Date ? startFrom.getTime() : startFrom;
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) {
    throw new OptionError('startFrom', startFrom, "'earliest', 'latest', or a start time (a valid Date or milliseconds since the epoch)");
  }
  // Partitions created after the start was settled hold only records written after it.
  return { chosen: new Date(at), fromBeginning: true };
}

/**
 * Reads and settles where a consumer group starts. `read` tells whether the group has any
 * committed offset on the topics; `settle`, run before the group's consumer joins, commits the
 * chosen start (`'latest'` or a time) for a group that has none, so the position is fixed
 * before the first fetch instead of at it, and every later start (also after a crash before
 * the first handled offset was committed) resumes from the group's offsets. `'earliest'`
 * needs nothing committed: kafkajs starts such partitions at their earliest offset.
 */
export class GroupStart {
  readonly #kafka: Kafka;
  readonly #groupId: string;
  readonly #topics: readonly string[];
  readonly #start: ResolvedStart;
  readonly #logger: Logger;

  constructor(kafka: Kafka, groupId: string, topics: readonly string[], start: ResolvedStart, logger: Logger) {
    this.#kafka = kafka;
    this.#groupId = groupId;
    this.#topics = topics;
    this.#start = start;
    this.#logger = logger;
  }

  /** Whether the group has committed offsets, and the start the user chose. */
  async read(): Promise<StartPosition> {
    const { committed } = await this.#withAdmin('read the committed offsets', (admin) => this.#committed(admin));
    return { groupId: this.#groupId, topics: this.#topics, committed, chosen: this.#start.chosen };
  }

  /** Commits the chosen start for a group without committed offsets; nothing for `'earliest'` or no choice. */
  async settle(): Promise<void> {
    const chosen = this.#start.chosen;
    if (chosen === undefined || chosen === 'earliest') return;
    await this.#withAdmin('set the start offsets', async (admin) => {
      const { committed, present } = await this.#committed(admin);
      if (committed) return;
      for (const topic of present) {
        const partitions =
          chosen === 'latest'
            ? (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }))
            : await admin.fetchTopicOffsetsByTimestamp(topic, chosen.getTime());
        try {
          await admin.setOffsets({ groupId: this.#groupId, topic, partitions });
        } catch (error) {
          // kafkajs sets offsets only while the group has no members. Another instance that
          // joined meanwhile settled the start itself before joining: leave it to that one.
          if (!(await this.#running(admin))) throw error;
          this.#logger.info({ groupId: this.#groupId, topic }, 'Another member of the group settled its start position');
          return;
        }
      }
      this.#logger.info(
        { groupId: this.#groupId, topics: present, startFrom: chosen === 'latest' ? chosen : chosen.toISOString() },
        'Committed the start position of a new consumer group',
      );
    });
  }

  /** Whether the group has a committed offset in a partition of an existing topic; and which topics exist. */
  async #committed(admin: Admin): Promise<{ committed: boolean; present: string[] }> {
    // Topics that do not exist yet are left out: asking for their offsets would create them.
    const existing = new Set(await admin.listTopics());
    const present = this.#topics.filter((t) => existing.has(t));
    if (present.length === 0) return { committed: false, present };
    const offsets = await admin.fetchOffsets({ groupId: this.#groupId, topics: present });
    // kafkajs answers -1 for a partition without a committed offset.
    const committed = offsets.some((t) => t.partitions.some((p) => Number(p.offset) >= 0));
    return { committed, present };
  }

  async #running(admin: Admin): Promise<boolean> {
    const { groups } = await admin.describeGroups([this.#groupId]);
    const state = groups[0]?.state;
    return state !== undefined && state !== 'Empty' && state !== 'Dead';
  }

  /** Runs `work` on a short-lived admin client; a failure is a retriable StartPositionError. */
  async #withAdmin<T>(what: string, work: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = this.#kafka.admin({ retry: retryOptions(5) });
    try {
      await admin.connect();
      return await work(admin);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new StartPositionError(
        `Could not ${what} of consumer group "${this.#groupId}" on ${this.#topics.join(', ')}: ${reason}`,
        { groupId: this.#groupId, topics: this.#topics },
        { cause: error, retriable: true },
      );
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
