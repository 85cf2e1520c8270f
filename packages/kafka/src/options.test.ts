import { OptionError, silentLogger } from '@onceflow/core';
import { describe, expect, it } from 'vitest';
import { resolveKafkaPublisherOptions, resolveKafkaSubscriberOptions } from './options.ts';
import { ThreadedKafkaPublisher } from './threaded-publisher.ts';

/** The OptionError `resolve` throws, for matching its option and value. */
function optionError(resolve: () => unknown): OptionError {
  try {
    resolve();
  } catch (error) {
    expect(error).toBeInstanceOf(OptionError);
    return error as OptionError;
  }
  throw new Error('no OptionError was thrown');
}

describe('resolveKafkaPublisherOptions', () => {
  it('applies the defaults', () => {
    expect(resolveKafkaPublisherOptions()).toEqual({ retries: 5, ackTimeoutMs: 30_000 });
    expect(resolveKafkaPublisherOptions({ retries: 0, ackTimeoutMs: 5 })).toEqual({ retries: 0, ackTimeoutMs: 5 });
  });

  it('names the bad option and the value received', () => {
    expect(optionError(() => resolveKafkaPublisherOptions({ retries: -1 }))).toMatchObject({ option: 'retries', value: '-1' });
    expect(optionError(() => resolveKafkaPublisherOptions({ retries: 1.5 }))).toMatchObject({ option: 'retries', value: '1.5' });
    expect(optionError(() => resolveKafkaPublisherOptions({ ackTimeoutMs: '30s' as never }))).toMatchObject({
      option: 'ackTimeoutMs',
      value: '"30s"',
    });
    expect(optionError(() => resolveKafkaPublisherOptions(null as never)).option).toBe('options');
  });

  it('checks the options of a threaded publisher at construction, in this thread', () => {
    expect(optionError(() => new ThreadedKafkaPublisher({ ackTimeoutMs: 0 }))).toMatchObject({ option: 'ackTimeoutMs', value: '0' });
  });
});

describe('resolveKafkaSubscriberOptions', () => {
  const required = { groupId: 'billing', topics: ['orders.paid'] };

  it('applies the defaults', () => {
    expect(resolveKafkaSubscriberOptions(required)).toEqual({
      groupId: 'billing',
      topics: ['orders.paid'],
      fromBeginning: true,
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 3_000,
      rebalanceTimeoutMs: 60_000,
      partitionsConsumedConcurrently: 4,
      maxBytesPerPartition: 1_048_576,
      maxWaitTimeMs: 100,
      detachAfterMs: 200,
      logger: silentLogger,
    });
  });

  it('copies the topic list', () => {
    const topics = ['a'];
    const resolved = resolveKafkaSubscriberOptions({ groupId: 'g', topics });
    topics.push('b');
    expect(resolved.topics).toEqual(['a']);
  });

  it('names the bad option and the value received', () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ groupId: undefined }, 'groupId', 'undefined'],
      [{ groupId: ' ' }, 'groupId', '" "'],
      [{ topics: [] }, 'topics', 'an array of 0'],
      [{ topics: 'orders' }, 'topics', '"orders"'],
      [{ topics: ['ok', 'bad topic'] }, 'topics', '"bad topic"'],
      [{ fromBeginning: 'yes' }, 'fromBeginning', '"yes"'],
      [{ sessionTimeoutMs: 10 }, 'sessionTimeoutMs', '10'],
      [{ heartbeatIntervalMs: 30_000 }, 'heartbeatIntervalMs', '30000'],
      [{ rebalanceTimeoutMs: 0 }, 'rebalanceTimeoutMs', '0'],
      [{ partitionsConsumedConcurrently: 0 }, 'partitionsConsumedConcurrently', '0'],
      [{ maxBytesPerPartition: 10 }, 'maxBytesPerPartition', '10'],
      [{ maxWaitTimeMs: -5 }, 'maxWaitTimeMs', '-5'],
      [{ detachAfterMs: Number.NaN }, 'detachAfterMs', 'NaN'],
      [{ logger: console.log }, 'logger', 'a function'],
    ];
    for (const [change, option, value] of cases) {
      const error = optionError(() => resolveKafkaSubscriberOptions({ ...required, ...change } as never));
      expect({ option: error.option, value: error.value }).toEqual({ option, value });
      expect(error.message).toContain(`Invalid option ${option}`);
    }
  });
});
