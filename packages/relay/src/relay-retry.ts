import type { Sleeper } from '@onceflow/core';
import { RetryPolicy } from '@onceflow/core';
import { BrokerUnavailableError } from './errors.ts';
import type { ResolvedRelayOptions } from './options.ts';

/** The relay's uses of core's one {@link RetryPolicy}: one backoff formula for all of them. */
export interface RelayRetryPolicies {
  /**
   * A message's attempts: up to `maxAttempts`, judged by the failure's `retriable` flag. It
   * says whether a failed row is dead and how long a retried one waits (the delay written
   * with the failure).
   */
  readonly record: RetryPolicy;
  /**
   * A lane's own retries, without limit: a batch met a broker-wide failure (retried, no
   * message charged; the only failure this policy retries in place), or the lane failed for
   * another reason (the database) and waits before it goes on.
   */
  readonly lane: RetryPolicy;
}

/** How the policies wait and draw their jitter (a fake clock in tests). */
export interface RetryClock {
  readonly sleep?: Sleeper;
  readonly random?: () => number;
}

/** The relay's retry policies for `options`, from `minBackoffMs` up to `maxBackoffMs`. */
export function relayRetryPolicies(
  options: Pick<ResolvedRelayOptions, 'maxAttempts' | 'minBackoffMs' | 'maxBackoffMs'>,
  clock: RetryClock = {},
): RelayRetryPolicies {
  const steps = {
    minDelayMs: options.minBackoffMs,
    maxDelayMs: options.maxBackoffMs,
    ...(clock.sleep === undefined ? {} : { sleep: clock.sleep }),
    ...(clock.random === undefined ? {} : { random: clock.random }),
  };
  return {
    record: new RetryPolicy({ ...steps, maxAttempts: options.maxAttempts }),
    lane: new RetryPolicy({
      ...steps,
      maxAttempts: Number.POSITIVE_INFINITY,
      retriable: (error) => error instanceof BrokerUnavailableError,
    }),
  };
}
