import { OptionError } from '@onceflow/core';
import knexFactory from 'knex';
import { describe, expect, it } from 'vitest';
import { consumerRetryPolicy, resolveConsumerOptions } from './consumer-options.ts';
import { resolveInboxOptions } from './inbox-options.ts';
import { resolveInboxRetentionOptions } from './retention.ts';
import { resolveSideEffectInboxOptions } from './side-effect/side-effect-inbox.ts';

const knex = knexFactory({ client: 'pg' });
const subscriber = { start: async () => undefined, stop: async () => undefined };
const handler = async () => undefined;

function optionError(fn: () => unknown): OptionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OptionError);
    return error as OptionError;
  }
  throw new Error('expected an OptionError');
}

describe('resolveInboxOptions', () => {
  it('applies defaults', () => {
    const o = resolveInboxOptions({ knex, consumerName: 'rewards' });
    expect(o.consumerName).toBe('rewards');
    expect(o.dedup).toBe('idempotencyKey');
    expect(o.tables.inbox).toBe('"onceflow"."inbox"');
    expect(o.fastPathTimeoutMs).toBe(50);
    expect(o.redis).toBeUndefined();
  });

  it('names the bad option and value', () => {
    expect(optionError(() => resolveInboxOptions({ consumerName: 'x' })).option).toBe('knex');
    expect(optionError(() => resolveInboxOptions({ knex })).option).toBe('consumerName');
    expect(optionError(() => resolveInboxOptions({ knex, consumerName: 'x', schema: 'Bad-Name' })).option).toBe('schema');
    const dedup = optionError(() => resolveInboxOptions({ knex, consumerName: 'x', dedup: 'key' as never }));
    expect(dedup.option).toBe('dedup');
    expect(dedup.message).toContain('"key"');
    expect(optionError(() => resolveInboxOptions({ knex, consumerName: 'x', fastPathTimeoutMs: 0 })).option).toBe('fastPathTimeoutMs');
  });
});

describe('resolveConsumerOptions', () => {
  it('applies defaults for transactional mode', () => {
    const o = resolveConsumerOptions({ knex, consumerName: 'c', subscriber, handler });
    expect(o.mode.kind).toBe('transactional');
    expect(o).toMatchObject({ concurrency: 8, maxMessagesPerTransaction: 32, maxAttempts: 5, retryMinDelayMs: 200, checkSchema: true });
    expect(o.deadLetter).toBeUndefined();
  });

  it('needs exactly one handler, and a lease store for side effects', () => {
    expect(optionError(() => resolveConsumerOptions({ knex, consumerName: 'c', subscriber })).option).toBe('handler');
    expect(optionError(() => resolveConsumerOptions({ knex, consumerName: 'c', subscriber, handler, batchHandler: handler })).option).toBe(
      'handler+batchHandler',
    );
    expect(optionError(() => resolveConsumerOptions({ knex, consumerName: 'c', subscriber, effectHandler: handler })).option).toBe(
      'leaseStore',
    );
    expect(resolveConsumerOptions({ knex, consumerName: 'c', subscriber, batchHandler: handler }).mode.kind).toBe('batch');
  });

  it('refuses bad numbers and half-configured dead-letter topics', () => {
    expect(optionError(() => resolveConsumerOptions({ knex, consumerName: 'c', subscriber, handler, concurrency: 0 })).option).toBe(
      'concurrency',
    );
    expect(optionError(() => resolveConsumerOptions({ knex, consumerName: 'c', subscriber, handler, maxAttempts: 1.5 })).value).toBe('1.5');
    expect(
      optionError(() =>
        resolveConsumerOptions({ knex, consumerName: 'c', subscriber, handler, retryMinDelayMs: 500, retryMaxDelayMs: 100 }),
      ).option,
    ).toBe('retryMaxDelayMs');
    expect(optionError(() => resolveConsumerOptions({ knex, consumerName: 'c', subscriber, handler, deadLetterTopic: 'dlq' })).option).toBe(
      'deadLetterPublisher',
    );
    expect(optionError(() => resolveConsumerOptions({ knex, consumerName: 'c', handler })).option).toBe('subscriber');
  });

  it('takes message types as a set of non-empty strings, naming a bad one', () => {
    expect(resolveConsumerOptions({ knex, consumerName: 'c', subscriber, handler }).types).toBeUndefined();
    expect([
      ...(resolveConsumerOptions({ knex, consumerName: 'c', subscriber, handler, types: ['paid', 'refunded'] }).types ?? []),
    ]).toEqual(['paid', 'refunded']);
    const empty = optionError(() => resolveConsumerOptions({ knex, consumerName: 'c', subscriber, handler, types: [] }));
    expect(empty.option).toBe('types');
    expect(empty.value).toBe('an array of 0');
    const blank = optionError(() => resolveConsumerOptions({ knex, consumerName: 'c', subscriber, handler, types: ['paid', ''] }));
    expect(blank.option).toBe('types[1]');
    expect(blank.message).toContain('received ""');
    expect(optionError(() => resolveConsumerOptions({ knex, consumerName: 'c', subscriber, handler, types: 'paid' as never })).option).toBe(
      'types',
    );
  });
});

describe('consumerRetryPolicy', () => {
  const waits = (min: number, max: number, random: number) =>
    [1, 2, 3, 4, 5, 6].map((n) =>
      consumerRetryPolicy({ maxAttempts: 5, retryMinDelayMs: min, retryMaxDelayMs: max }, { random: () => random }).delayMs(n),
    );

  it('waits at least retryMinDelayMs and at most retryMaxDelayMs, doubling in between', () => {
    expect(waits(100, 10_000, 0)).toEqual([100, 200, 400, 800, 1_600, 3_200]);
    expect(waits(100, 10_000, 0.999_999)).toEqual([200, 400, 800, 1_600, 3_200, 6_400]);
    expect(waits(100, 1_000, 0)).toEqual([100, 200, 400, 500, 500, 500]);
    expect(waits(2_000, 2_000, 0)).toEqual([2_000, 2_000, 2_000, 2_000, 2_000, 2_000]);
    expect(waits(50, 60, 0)).toEqual([50, 50, 50, 50, 50, 50]);
    expect(waits(0, 0, 0.5)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('retries what is retriable while attempts remain', () => {
    const policy = consumerRetryPolicy({ maxAttempts: 2, retryMinDelayMs: 10, retryMaxDelayMs: 20 });
    expect(policy.decide(new Error('down'), 1).retry).toBe(true);
    expect(policy.decide(new Error('down'), 2)).toEqual({ retry: false, reason: 'exhausted' });
  });
});

describe('resolveInboxRetentionOptions', () => {
  it('refuses a window not longer than the redelivery horizon, saying why', () => {
    const error = optionError(() => resolveInboxRetentionOptions({ retentionMs: 3_600_000, redeliveryHorizonMs: 86_400_000 }));
    expect(error.option).toBe('retentionMs');
    expect(error.message).toContain('redeliveryHorizonMs (86400000)');
    expect(error.message).toContain('run its effect again');
    expect(optionError(() => resolveInboxRetentionOptions({ retentionMs: 1000 })).option).toBe('redeliveryHorizonMs');
    expect(resolveInboxRetentionOptions({ retentionMs: 2, redeliveryHorizonMs: 1 }).batchSize).toBe(1000);
  });
});

describe('resolveSideEffectInboxOptions', () => {
  it('needs a store and a consumer name', () => {
    expect(optionError(() => resolveSideEffectInboxOptions({ consumerName: 'x' })).option).toBe('store');
    const store = { acquire: handler, complete: handler, release: handler, extend: handler } as never;
    expect(optionError(() => resolveSideEffectInboxOptions({ store })).option).toBe('consumerName');
    expect(resolveSideEffectInboxOptions({ store, consumerName: 'x' }).leaseMs).toBe(60_000);
    expect(optionError(() => resolveSideEffectInboxOptions({ store, consumerName: 'x', leaseMs: 0 })).option).toBe('leaseMs');
  });
});
