import type { Logger, StartPosition, Subscriber } from '@onceflow/core';
import { StartPositionError } from '@onceflow/core';
import type { ResolvedInboxOptions } from './inbox-options.ts';
import type { ConsumerHistory } from './sql/select-history.ts';

/**
 * What a consumer does about where its group starts: resume from committed offsets, start
 * where the user chose, start a consumer name's first run from the default, or refuse.
 */
export type StartDecision =
  | { readonly kind: 'resume' }
  | { readonly kind: 'chosen' }
  | { readonly kind: 'first-run' }
  | { readonly kind: 'rerun' }
  | { readonly kind: 'refuse'; readonly evidence: readonly string[] };

/**
 * Decides a consumer's start. A group without committed offsets and without a chosen start
 * reads from the earliest offset; over a consumer name with history that would re-apply every
 * message whose inbox row is gone (pruned by retention, or never written because the message
 * was parked and later purged), so it is refused. History is any inbox row, dead letter, or
 * note that retention removed rows of the name. The group that wrote that history, if it never
 * committed an offset (its first run ended early), starts again from the default: it only
 * re-reads what it read before ('rerun').
 */
export function decideStart(
  position: Pick<StartPosition, 'committed' | 'chosen'> & { groupId?: string },
  history: ConsumerHistory,
): StartDecision {
  if (position.committed) return { kind: 'resume' };
  if (position.chosen !== undefined) return { kind: 'chosen' };
  const evidence = [
    ...(history.inboxRows ? ['inbox rows'] : []),
    ...(history.deadLetters ? ['dead letters'] : []),
    ...(history.pruned ? ['inbox rows removed by retention'] : []),
  ];
  if (evidence.length === 0) return { kind: 'first-run' };
  // Not after retention removed rows: then the re-read would re-apply what the inbox forgot.
  const group = history.group;
  if (!history.pruned && group !== undefined && !group.committed && 'groupId' in position && group.group === position.groupId) {
    return { kind: 'rerun' };
  }
  return { kind: 'refuse', evidence };
}

/** The refusal of {@link decideStart}, naming the consumer, group, topics and the three choices. */
export function newGroupError(consumerName: string, position: StartPosition, evidence: readonly string[]): StartPositionError {
  const topics = position.topics.join(', ');
  return new StartPositionError(
    `Consumer "${consumerName}" refuses to start consumer group "${position.groupId}" on ${topics}: the group has no committed offsets ` +
      `and the database has history for this consumer name (${evidence.join(', ')}), so reading from the earliest offset would ` +
      're-apply every message whose inbox row is gone. Choose where the group starts with the subscriber option startFrom: ' +
      `'earliest' (re-read all that Kafka keeps; the inbox skips what it still remembers), 'latest' (only records written from now on), ` +
      `or a start time (a Date or milliseconds since the epoch: each partition from its first record at or after it).`,
    { groupId: position.groupId, topics: position.topics, consumerName },
  );
}

/**
 * Refuses (throws {@link StartPositionError}) to start a new consumer group with no chosen
 * start over a consumer name with history. A group that starts from the default is noted, and
 * answered, so its first offset commit can be noted too; undefined otherwise (a group that
 * resumes or has a chosen start, or a subscriber that cannot tell its start position).
 */
export async function checkStartPosition(subscriber: Subscriber, inbox: ResolvedInboxOptions, logger: Logger): Promise<string | undefined> {
  if (subscriber.startPosition === undefined) return undefined;
  const position = await subscriber.startPosition();
  // Only a new group without a choice needs the database's answer, and a note: a group that
  // resumes or was told where to start never depends on it.
  if (position.committed || position.chosen !== undefined) return undefined;
  const history = await inbox.sql.selectHistory(inbox.knex, inbox.tables, inbox.consumerName);
  const decision = decideStart(position, history);
  if (decision.kind === 'refuse') throw newGroupError(inbox.consumerName, position, decision.evidence);
  logger.info(
    { groupId: position.groupId, topics: position.topics },
    decision.kind === 'rerun'
      ? 'This group never committed an offset (its first run ended early): reading from the earliest offset again'
      : 'First run of this consumer name: reading from the earliest offset',
  );
  await inbox.sql.noteGroupStarted(inbox.knex, inbox.tables, inbox.consumerName, position.groupId);
  return position.groupId;
}
