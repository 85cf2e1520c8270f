import { ErrorCodes, OnceflowError } from './errors.ts';
import type { Logger } from './logger.ts';
import type { TopicFacts } from './transport.ts';

/** The replication that makes `acks=all` mean something: a write survives the loss of a broker. */
export const DURABLE_REPLICATION = { replicationFactor: 3, minInsyncReplicas: 2 } as const;

/**
 * One line per topic whose replication is below {@link DURABLE_REPLICATION}, naming the topic
 * and the values found; empty when every topic is durable. Values the cluster did not report
 * (NaN) are not judged.
 */
export function replicationProblems(facts: readonly TopicFacts[]): string[] {
  const problems: string[] = [];
  for (const f of facts) {
    const low: string[] = [];
    if (f.replicationFactor < DURABLE_REPLICATION.replicationFactor) low.push(`replication factor ${f.replicationFactor}`);
    if (f.minInsyncReplicas < DURABLE_REPLICATION.minInsyncReplicas) low.push(`min.insync.replicas ${f.minInsyncReplicas}`);
    if (low.length > 0) {
      problems.push(
        `topic "${f.topic}" has ${low.join(' and ')} (durable needs replication factor >= ${DURABLE_REPLICATION.replicationFactor} and min.insync.replicas >= ${DURABLE_REPLICATION.minInsyncReplicas}): one broker lost can lose acknowledged messages`,
      );
    }
  }
  return problems;
}

/** A topic's replication is below what `strictReplication` demands. */
export class ReplicationError extends OnceflowError {
  /** One line per topic at fault. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(ErrorCodes.option, `strictReplication refuses to start: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

/**
 * The start-up check of relays and consumers: warns once per under-replicated topic, or with
 * `strict` throws a {@link ReplicationError} naming them all. A cluster that cannot be asked is
 * logged and skipped (the relay or consumer then reports the broker itself).
 */
export async function checkReplication(
  describe: ((topics: readonly string[]) => Promise<TopicFacts[]>) | undefined,
  topics: readonly string[],
  strict: boolean,
  logger: Logger,
): Promise<void> {
  if (describe === undefined || topics.length === 0) return;
  let facts: TopicFacts[];
  try {
    facts = await describe(topics);
  } catch (error) {
    if (strict) throw error;
    logger.warn({ error }, "Could not read the topics' replication settings; not checked");
    return;
  }
  const problems = replicationProblems(facts);
  if (problems.length === 0) return;
  if (strict) throw new ReplicationError(problems);
  for (const problem of problems) logger.warn({}, problem);
}
