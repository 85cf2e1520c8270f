import { randomBytes } from 'node:crypto';
import type { ConsumedMessage, DedupMode, MessageHandler } from '@onceflow/consumer';
import { resolveInboxOptions } from '@onceflow/consumer';
import type { Tables } from '@onceflow/core';
import { boolOption, intOption, knexPoolMax, OptionError, requiredOption } from '@onceflow/core';
import type { Knex } from 'knex';
import type { Scenario } from './idempotency-error.ts';
import { ALL_SCENARIOS, Scenarios } from './idempotency-error.ts';

/** Options of {@link checkIdempotency}. `knex`, `handler`, `message`, `snapshot` and `reset` are required. */
export interface CheckIdempotencyOptions<Payload = unknown> {
  /** A knex pool on your real database, migrated with Onceflow's tables (at least 3 connections for `concurrent`). */
  knex: Knex;
  /** Your transactional handler, exactly as you give it to InboxConsumer. */
  handler: MessageHandler<Payload>;
  /** The message to deliver, e.g. from {@link makeMessage}. */
  message: ConsumedMessage<Payload>;
  /**
   * Reads the state your handler changes, in a form that compares by value: rows ordered, without
   * columns that differ on every run (serial ids, `now()` timestamps).
   */
  snapshot: (knex: Knex) => Promise<unknown> | unknown;
  /** Brings your tables back to the starting state; runs before every scenario (and once at the end). */
  reset: (knex: Knex) => Promise<void> | void;
  /** Which scenarios to run. @defaultValue every one of {@link Scenarios} */
  scenarios?: readonly Scenario[];
  /**
   * The inbox name the kit records the message under; its rows are deleted before every scenario
   * and at the end. @defaultValue "onceflow-testing-" and a random suffix
   */
  consumerName?: string;
  /** Schema of Onceflow's tables. @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
  /** How the dedup key is derived, as configured on your consumer. @defaultValue 'idempotencyKey' */
  dedup?: DedupMode;
  /** Fail when a single delivery changes nothing `snapshot` can see (a snapshot that misses the effect proves nothing). @defaultValue true */
  expectEffect?: boolean;
  /** How long the concurrent scenario waits for the second copy to block on the first. @defaultValue 10000 */
  waitTimeoutMs?: number;
}

/** {@link CheckIdempotencyOptions} validated, with defaults applied. */
export interface ResolvedCheckIdempotencyOptions<Payload = unknown> {
  readonly knex: Knex;
  readonly handler: MessageHandler<Payload>;
  readonly message: ConsumedMessage<Payload>;
  readonly snapshot: (knex: Knex) => Promise<unknown> | unknown;
  readonly reset: (knex: Knex) => Promise<void> | void;
  readonly scenarios: readonly Scenario[];
  readonly consumerName: string;
  readonly schema: string;
  readonly tables: Tables;
  readonly dedup: DedupMode;
  readonly expectEffect: boolean;
  readonly waitTimeoutMs: number;
}

/** Validates {@link CheckIdempotencyOptions}; throws OptionError naming the first bad option and its value. */
export function resolveCheckIdempotencyOptions<Payload>(
  options: CheckIdempotencyOptions<Payload>,
): ResolvedCheckIdempotencyOptions<Payload> {
  if (options === null || typeof options !== 'object') {
    throw new OptionError('options', options, 'an object with knex, handler, message, snapshot and reset');
  }
  const handler = requiredFunction('handler', options.handler, 'your message handler (message, trx) => Promise<void>');
  const snapshot = requiredFunction('snapshot', options.snapshot, 'a function (knex) => state that reads what the handler changes');
  const reset = requiredFunction('reset', options.reset, 'a function (knex) => void that restores the starting state');
  const message = requiredOption('message', options.message, 'a ConsumedMessage (see makeMessage)');
  if (
    typeof message !== 'object' ||
    typeof message.topic !== 'string' ||
    typeof message.offset !== 'string' ||
    typeof message.headers !== 'object'
  ) {
    throw new OptionError('message', message, 'a ConsumedMessage (see makeMessage)');
  }
  const scenarios = options.scenarios ?? ALL_SCENARIOS;
  if (!Array.isArray(scenarios) || scenarios.length === 0) {
    throw new OptionError('scenarios', scenarios, `a non-empty list of ${ALL_SCENARIOS.map((s) => `'${s}'`).join(', ')}`);
  }
  const bad = scenarios.find((s) => !(ALL_SCENARIOS as readonly unknown[]).includes(s));
  if (bad !== undefined) throw new OptionError('scenarios', bad, `one of ${ALL_SCENARIOS.map((s) => `'${s}'`).join(', ')}`);
  // The inbox validates knex, consumerName, schema and dedup with the consumer's own rules.
  const inbox = resolveInboxOptions({
    knex: options.knex,
    consumerName: options.consumerName ?? `onceflow-testing-${randomBytes(4).toString('hex')}`,
    ...(options.schema === undefined ? {} : { schema: options.schema }),
    ...(options.dedup === undefined ? {} : { dedup: options.dedup }),
  });
  if (scenarios.includes(Scenarios.concurrent)) {
    const max = knexPoolMax(inbox.knex);
    if (max !== undefined && max < 3) {
      throw new OptionError(
        'knex',
        `a pool of ${max} connections`,
        'a pool of at least 3 connections for the concurrent scenario (two open transactions and one observer)',
      );
    }
  }
  return {
    knex: inbox.knex,
    handler,
    message,
    snapshot,
    reset,
    scenarios: [...new Set(scenarios)],
    consumerName: inbox.consumerName,
    schema: inbox.tables.schema,
    tables: inbox.tables,
    dedup: inbox.dedup,
    expectEffect: boolOption('expectEffect', options.expectEffect, true),
    waitTimeoutMs: intOption('waitTimeoutMs', options.waitTimeoutMs, 10_000, 100, 600_000),
  };
}

function requiredFunction<T>(name: string, value: T | undefined, expected: string): T {
  if (typeof value !== 'function') throw new OptionError(name, value, expected);
  return value;
}
