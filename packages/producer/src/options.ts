import type { Logger, Tables } from '@onceflow/core';
import {
  choiceOption,
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_HEADERS,
  defaultSchema,
  intOption,
  OptionError,
  silentLogger,
  tablesFor,
} from '@onceflow/core';
import type { Knex } from 'knex';

/** Options of {@link OutboxWriter}. */
export interface OutboxWriterOptions {
  /** Schema holding Onceflow's tables. @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
  /** Largest encoded payload accepted, in bytes (Kafka's default record limit is 1 MiB). @defaultValue 1000000 */
  maxPayloadBytes?: number;
  /** Most headers of one message; more are refused before any SQL runs. @defaultValue 64 */
  maxHeaders?: number;
  /**
   * Most UTF-8 bytes of one message's header names and values together (they are stored as
   * jsonb and sent with every Kafka record). @defaultValue 16384
   */
  maxHeaderBytes?: number;
  /**
   * What enqueueing an existing `(topic, idempotencyKey)` does: `'return'` gives back the
   * message already stored, `'error'` throws {@link DuplicateMessageError}. @defaultValue 'return'
   */
  onDuplicate?: 'return' | 'error';
  /**
   * Your application's knex, used to wake the relays as soon as a transaction that enqueued
   * has committed: a NOTIFY sent from this pool after the commit, outside your transaction
   * (merged across concurrent commits). Without it, relays find new messages by polling
   * (the relay's `pollIntervalMs`). Wake-ups queue for a connection like any query: if your
   * transactions keep this pool saturated, give the writer a small pool of its own (max 1-2).
   * @defaultValue undefined (no wake-ups)
   */
  knex?: Knex;
  /** Where a failed wake-up is reported (at warn level). @defaultValue a silent logger */
  logger?: Logger;
}

/** {@link OutboxWriterOptions} with every default applied. */
export interface ResolvedOutboxWriterOptions {
  readonly tables: Tables;
  readonly maxPayloadBytes: number;
  readonly maxHeaders: number;
  readonly maxHeaderBytes: number;
  readonly onDuplicate: 'return' | 'error';
  readonly knex: Knex | undefined;
  readonly logger: Logger;
}

/** Validates options; throws OptionError naming the first bad one. */
export function resolveOutboxWriterOptions(options: OutboxWriterOptions = {}): ResolvedOutboxWriterOptions {
  return {
    tables: tablesFor(options.schema ?? defaultSchema()),
    maxPayloadBytes: intOption('maxPayloadBytes', options.maxPayloadBytes, 1_000_000, 1, 100_000_000),
    maxHeaders: intOption('maxHeaders', options.maxHeaders, DEFAULT_MAX_HEADERS, 0, 10_000),
    maxHeaderBytes: intOption('maxHeaderBytes', options.maxHeaderBytes, DEFAULT_MAX_HEADER_BYTES, 0, 100_000_000),
    onDuplicate: choiceOption('onDuplicate', options.onDuplicate, 'return', ['return', 'error'] as const),
    knex: knexOption(options.knex),
    logger: options.logger ?? silentLogger,
  };
}

function knexOption(knex: unknown): Knex | undefined {
  if (knex === undefined) return undefined;
  if (typeof knex !== 'function' || typeof (knex as { raw?: unknown }).raw !== 'function') {
    throw new OptionError('knex', knex, 'a knex instance (your application pool)');
  }
  if ((knex as { isTransaction?: unknown }).isTransaction === true) {
    throw new OptionError(
      'knex',
      '(a knex transaction)',
      'the knex pool itself, not a transaction: wake-ups are sent after your transaction commits',
    );
  }
  return knex as Knex;
}
