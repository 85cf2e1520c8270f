import * as consumer from '@onceflow/consumer';
import * as core from '@onceflow/core';
import { ErrorCodes, OnceflowError } from '@onceflow/core';
import * as kafka from '@onceflow/kafka';
import * as metrics from '@onceflow/metrics';
import * as producer from '@onceflow/producer';
import * as relay from '@onceflow/relay';
import * as testing from '@onceflow/testing';
import { describe, expect, it } from 'vitest';

const PACKAGES: Record<string, Record<string, unknown>> = {
  '@onceflow/core': core,
  '@onceflow/consumer': consumer,
  '@onceflow/kafka': kafka,
  '@onceflow/metrics': metrics,
  '@onceflow/producer': producer,
  '@onceflow/relay': relay,
  '@onceflow/testing': testing,
};

/**
 * One instance of every public error class, as the code throws it. A new exported error class
 * needs an entry here, which makes its test check its base class and code.
 */
const SAMPLES: Record<string, () => unknown> = {
  OnceflowError: () => new OnceflowError(ErrorCodes.usage, 'sample'),
  ValidationError: () => new core.ValidationError('key', '', 'a non-empty string'),
  OptionError: () => new core.OptionError('batchSize', 0, 'an integer from 1'),
  SchemaVersionError: () => new core.SchemaVersionError('onceflow', null, 1),
  RuntimeVersionError: () => new core.RuntimeVersionError('knex', '2.0.0', '>=3.1.0 <4', 'Install knex 3.'),
  PublishError: () => new core.PublishError('broker down', { scope: 'broker', retriable: true }),
  FatalHandlerError: () => new core.FatalHandlerError('refused'),
  ReplicationError: () => new core.ReplicationError(['orders: replication factor 1']),
  RetryStopped: () => new core.RetryStopped('exhausted', 3, new Error('down')),
  StartPositionError: () => new core.StartPositionError('refused', { groupId: 'g', topics: ['orders'], consumerName: 'rewards' }),
  GroupFailure: () => new consumer.GroupFailure(0, new Error('handler failed')),
  DedupKeyError: () => new consumer.DedupKeyError('orders/0@1', 'no key'),
  LeaseStoreError: () => new consumer.LeaseStoreError('acquire', new Error('down')),
  DeadLetterError: () => new consumer.DeadLetterError('1', 'no dead letter has this id'),
  DuplicateMessageError: () => new producer.DuplicateMessageError('orders', 'payment:1', '0190b6f0-0000-7000-8000-000000000000'),
  DeadMessageError: () => new relay.DeadMessageError('0190b6f0-0000-7000-8000-000000000000', 'no dead message has this id'),
  IdempotencyError: () =>
    new testing.IdempotencyError({
      scenario: 'sequential',
      problem: 'The database differs from a single delivery.',
      differences: ['+ a row'],
      expected: {},
      actual: { rows: [1] },
      outcomes: ['handled', 'handled'],
      handlerCalls: 2,
    }),
};

/**
 * Exported error classes not yet on OnceflowError, each with the work that moves it. The test
 * fails once one of them is, so the entry is removed then.
 */
const PENDING: Record<string, string> = {};

function errorClasses(): Array<[string, string, abstract new (...args: never[]) => Error]> {
  const found: Array<[string, string, abstract new (...args: never[]) => Error]> = [];
  for (const [pkg, exports] of Object.entries(PACKAGES)) {
    for (const [name, value] of Object.entries(exports)) {
      if (typeof value === 'function' && value.prototype instanceof Error) {
        found.push([pkg, name, value as abstract new (...args: never[]) => Error]);
      }
    }
  }
  return found;
}

describe('public error classes', () => {
  it('are found in the packages', () => {
    expect(errorClasses().length).toBeGreaterThan(10);
  });

  it.each(errorClasses())('%s %s is an OnceflowError with a stable code', (_pkg, name, errorClass) => {
    if (name in PENDING) {
      expect(errorClass.prototype instanceof OnceflowError, `${name} extends OnceflowError now: remove it from PENDING`).toBe(false);
      return;
    }
    const sample = SAMPLES[name];
    expect(sample, `no sample of ${name} in SAMPLES`).toBeDefined();
    const error = sample?.() as OnceflowError;
    expect(error).toBeInstanceOf(errorClass);
    expect(error).toBeInstanceOf(OnceflowError);
    expect(Object.values(ErrorCodes)).toContain(error.code);
    expect(error.name).toBe(name);
    expect(typeof error.retriable).toBe('boolean');
  });
});
