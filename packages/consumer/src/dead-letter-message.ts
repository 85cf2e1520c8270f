import type { Logger, TypedEmitter } from '@onceflow/core';
import { encodeRawHeaders, HeaderNames, recordProcessOutcome } from '@onceflow/core';
import { describeRecord } from './consumed-message.ts';
import type { InboxConsumerEvents, InboxConsumerStats } from './consumer-events.ts';
import type { ResolvedConsumerOptions } from './consumer-options.ts';
import { attemptError } from './dead-letters.ts';
import { dedupScopeOf } from './dedup.ts';
import type { ResolvedInboxOptions } from './inbox-options.ts';
import type { Item } from './run-context.ts';
import type { DeadLetterRow } from './sql/insert-dead-letter.ts';

/** Headers added to a record published to the dead-letter topic. */
export const DeadLetterHeaders = {
  source: 'onceflow-dead-letter-source',
  consumer: 'onceflow-dead-letter-consumer',
  attempts: 'onceflow-dead-letter-attempts',
  error: 'onceflow-dead-letter-error',
  id: 'onceflow-dead-letter-id',
} as const;

/**
 * Headers of a last-resort dead letter (one the database refused to store in full): the record's
 * key, headers and error history as base64 of their UTF-8 JSON, so nothing of the record
 * reaches a text column or an index. The value is kept as bytes.
 */
export const RawDeadLetterHeaders = {
  key: 'onceflow-raw-key-base64',
  headers: 'onceflow-raw-headers-base64',
  errors: 'onceflow-raw-errors-base64',
} as const;

/** What dead-lettering needs from its {@link InboxConsumer}. */
export interface DeadLetterContext {
  readonly inbox: ResolvedInboxOptions;
  readonly deadLetter: ResolvedConsumerOptions['deadLetter'];
  readonly events: TypedEmitter<InboxConsumerEvents>;
  readonly stats: InboxConsumerStats;
  readonly logger: Logger;
}

/**
 * Dead-letters a message: stores it in the dead_letters table with its error history, then
 * (when configured) publishes it to the dead-letter topic. The table is the authority: if the
 * insert fails the message is not finished (it is fetched again later); a failed topic publish
 * is reported and the table row stays. Returns whether the message was dead-lettered.
 */
export async function deadLetterMessage(
  ctx: DeadLetterContext,
  item: Item,
  errors: readonly unknown[],
  attempts: number,
): Promise<boolean> {
  const { inbox, events, stats, logger } = ctx;
  const { message } = item;
  const history = errors.map((e, i) => attemptError(attempts === 0 ? 0 : i + 1, e));
  let deadLetterId: string | null;
  try {
    deadLetterId = await storeDeadLetter(ctx, {
      consumer: inbox.consumerName,
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      key: message.key,
      scope: dedupScopeOf(message, inbox.dedupScope),
      dedupKey: item.dedupKey ?? null,
      headers: message.headers,
      rawKey: message.rawKey,
      rawHeaders: encodeRawHeaders(message.rawHeaders),
      value: message.value,
      errors: history,
      attempts,
    });
  } catch (error) {
    logger.error({ error, record: describeRecord(message) }, 'Could not store a dead letter; the message will be fetched again');
    events.emit('inbox:error', { error, topic: message.topic, partition: message.partition });
    return false;
  }
  recordProcessOutcome(
    message.topic,
    message.headers,
    { 'messaging.consumer.group.name': inbox.consumerName, 'messaging.destination.partition.id': String(message.partition) },
    'dead_letter',
    { 'onceflow.attempts': attempts, 'onceflow.error': (history.at(-1)?.message ?? '').slice(0, 1_000) },
  );
  const deadLetter = ctx.deadLetter;
  if (deadLetterId !== null && deadLetter !== undefined) {
    const lastError = history.at(-1);
    const key = message.key ?? item.dedupKey ?? message.headers[HeaderNames.id] ?? describeRecord(message);
    const added: Record<string, string> = {
      [DeadLetterHeaders.source]: describeRecord(message),
      [DeadLetterHeaders.consumer]: inbox.consumerName,
      [DeadLetterHeaders.attempts]: String(attempts),
      [DeadLetterHeaders.error]: (lastError?.message ?? '').slice(0, 1_000).toWellFormed(),
      [DeadLetterHeaders.id]: deadLetterId,
    };
    try {
      await deadLetter.publisher.publish([
        {
          topic: deadLetter.topic,
          key,
          value: message.value ?? Buffer.alloc(0),
          headers: { ...message.headers, ...added },
          // The record's own bytes: a binary key, a tombstone and repeated headers survive, as in a replay.
          raw: {
            key: message.rawKey ?? Buffer.from(key, 'utf8'),
            value: message.value,
            headers: [...message.rawHeaders, ...Object.entries(added).map(([name, value]) => [name, Buffer.from(value, 'utf8')] as const)],
          },
        },
      ]);
    } catch (error) {
      logger.warn({ error, deadLetterId }, 'Could not publish a dead letter to the dead-letter topic; it is in the table');
      events.emit('inbox:error', { error, topic: deadLetter.topic });
    }
  }
  stats.deadLettered++;
  logger.warn({ record: describeRecord(message), attempts, deadLetterId, error: history.at(-1)?.message }, 'Message dead-lettered');
  events.emit('inbox:dead', { message, dedupKey: item.dedupKey ?? null, attempts, errors: history, deadLetterId });
  return true;
}

/**
 * Inserts the dead letter; when the database refuses its content (a data error: the record made
 * it unstorable in a way {@link pgText} and the dedup key limit did not foresee), inserts the
 * last-resort row instead, so the offset can move on. Connection and other errors propagate:
 * those pass, and the record is fetched again.
 */
async function storeDeadLetter(ctx: DeadLetterContext, row: DeadLetterRow): Promise<string | null> {
  const { knex, tables, sql } = ctx.inbox;
  try {
    return await sql.insertDeadLetter(knex, tables, row);
  } catch (error) {
    if (!sql.isDataError(error)) throw error;
    const code = String((error as { code?: unknown }).code);
    const server = sql.dialect === 'mysql' ? 'MySQL' : 'PostgreSQL';
    ctx.logger.error({ error, record: describeRecord(row) }, `${server} refused a dead letter; storing the raw record instead`);
    const base64 = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null', 'utf8').toString('base64');
    return sql.insertRawDeadLetter(knex, tables, {
      consumer: row.consumer,
      topic: row.topic,
      partition: row.partition,
      offset: row.offset,
      headers: {
        [RawDeadLetterHeaders.key]: base64(row.key),
        [RawDeadLetterHeaders.headers]: base64(row.headers),
        [RawDeadLetterHeaders.errors]: base64(row.errors),
      },
      rawKey: row.rawKey,
      rawHeaders: row.rawHeaders,
      value: row.value,
      errors: [
        {
          attempt: row.attempts,
          at: new Date().toISOString(),
          name: 'DeadLetterRefused',
          code,
          message: `${server} refused the dead letter (${code}); the key, headers and errors are kept as base64 in the headers ${Object.values(RawDeadLetterHeaders).join(', ')}`,
        },
      ],
      attempts: row.attempts,
    });
  }
}
