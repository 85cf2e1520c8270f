import { isRetriable } from '@onceflow/core';
import pRetry, { AbortError } from 'p-retry';
import { noteFailure } from './dead-letters.ts';
import type { Item, RunContext } from './partition-run.ts';

/** Wraps an attempt's error for p-retry, which would otherwise never retry a TypeError. */
class AttemptFailure extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'AttemptFailure';
  }
}

/**
 * Runs `op` with p-retry from attempt `first` up to maxAttempts, with exponential backoff and
 * jitter. Only retriable errors (see `isRetriable`: a FatalHandlerError is not) are tried again;
 * every failure is pushed to `errors` (the dead letter's history). `onRetry` runs each time a
 * retry is scheduled, before its wait. Aborting `signal` (revocation or stop) ends the waiting
 * at once.
 */
export function withRetries<T>(
  ctx: RunContext,
  signal: AbortSignal,
  item: Item,
  first: number,
  errors: unknown[],
  op: () => Promise<T>,
  onRetry: () => void = () => undefined,
): Promise<T> {
  const { maxAttempts, retryMinDelayMs, retryMaxDelayMs } = ctx.options;
  return pRetry(
    async () => {
      try {
        return await op();
      } catch (error) {
        if (error instanceof AbortError) throw error;
        throw new AttemptFailure(error);
      }
    },
    {
      retries: Math.max(0, maxAttempts - first),
      minTimeout: retryMinDelayMs,
      maxTimeout: retryMaxDelayMs,
      factor: 2,
      randomize: true,
      signal,
      shouldRetry: ({ error }) => isRetriable(error.cause) && !signal.aborted,
      onFailedAttempt: ({ error, attemptNumber, retriesLeft, retryDelay }) => {
        errors.push(noteFailure(error.cause));
        if (retriesLeft > 0 && isRetriable(error.cause) && !signal.aborted) {
          ctx.stats.retried++;
          ctx.events.emit('inbox:retry', {
            message: item.message,
            attempt: first + attemptNumber - 1,
            error: error.cause,
            delayMs: retryDelay,
          });
          onRetry();
        }
      },
    },
  );
}
