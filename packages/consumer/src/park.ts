import { HeaderNames } from '@onceflow/core';
import { describeRecord } from './consumed-message.ts';
import { attemptError } from './dead-letters.ts';
import type { Item, RunContext } from './partition-run.ts';
import { insertDeadLetter } from './sql/insert-dead-letter.ts';

/** Headers added to a record published to the dead-letter topic. */
export const DeadLetterHeaders = {
  source: 'onceflow-dead-letter-source',
  consumer: 'onceflow-dead-letter-consumer',
  attempts: 'onceflow-dead-letter-attempts',
  error: 'onceflow-dead-letter-error',
  id: 'onceflow-dead-letter-id',
} as const;

/**
 * Parks a message in the dead_letters table with its error history, then (when configured)
 * publishes it to the dead-letter topic. The table is the authority: if the insert fails the
 * message is not finished (it is fetched again later); a failed topic publish is reported and
 * the table row stays. Returns whether the message was parked.
 */
export async function parkMessage(ctx: RunContext, item: Item, errors: readonly unknown[], attempts: number): Promise<boolean> {
  const { inbox, options, events, stats, logger } = ctx;
  const { message } = item;
  const history = errors.map((e, i) => attemptError(attempts === 0 ? 0 : i + 1, e));
  let deadLetterId: string | null;
  try {
    deadLetterId = await insertDeadLetter(inbox.options.knex, inbox.options.tables, {
      consumer: inbox.options.consumerName,
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      key: message.key,
      dedupKey: item.dedupKey ?? null,
      headers: message.headers,
      value: message.value,
      errors: history,
      attempts,
    });
  } catch (error) {
    logger.error({ error, record: describeRecord(message) }, 'Could not park a message as a dead letter; it will be fetched again');
    events.emit('inbox:error', { error, topic: message.topic, partition: message.partition });
    return false;
  }
  const deadLetter = options.deadLetter;
  if (deadLetterId !== null && deadLetter !== undefined) {
    const lastError = history.at(-1);
    try {
      await deadLetter.publisher.publish([
        {
          topic: deadLetter.topic,
          key: message.key ?? item.dedupKey ?? message.headers[HeaderNames.id] ?? describeRecord(message),
          value: message.value ?? Buffer.alloc(0),
          headers: {
            ...message.headers,
            [DeadLetterHeaders.source]: describeRecord(message),
            [DeadLetterHeaders.consumer]: inbox.options.consumerName,
            [DeadLetterHeaders.attempts]: String(attempts),
            [DeadLetterHeaders.error]: (lastError?.message ?? '').slice(0, 1_000),
            [DeadLetterHeaders.id]: deadLetterId,
          },
        },
      ]);
    } catch (error) {
      logger.warn({ error, deadLetterId }, 'Could not publish a dead letter to the dead-letter topic; it is in the table');
      events.emit('inbox:error', { error, topic: deadLetter.topic });
    }
  }
  stats.deadLettered++;
  logger.warn(
    { record: describeRecord(message), attempts, deadLetterId, error: history.at(-1)?.message },
    'Message parked as a dead letter',
  );
  events.emit('inbox:dead', { message, dedupKey: item.dedupKey ?? null, attempts, errors: history, deadLetterId });
  return true;
}
