import { ErrorCodes, isRetriable, OnceflowError } from './errors.ts';

/** How a {@link RetryPolicy} waits: resolves true after `ms`, or false as soon as `signal` aborts. */
export type Sleeper = (ms: number, signal?: AbortSignal) => Promise<boolean>;

/** Resolves true after `ms`, or false at once when `signal` aborts (before or during the wait). */
export const sleep: Sleeper = (ms, signal) =>
  new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve(false);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** The settings of a {@link RetryPolicy}. */
export interface RetryPolicyOptions {
  /** Attempts in all, the first one included; `Infinity` for no limit. */
  readonly maxAttempts: number;
  /** The step of the first retry; each later step doubles, up to `maxDelayMs`. */
  readonly minDelayMs: number;
  /** The largest step. */
  readonly maxDelayMs: number;
  /**
   * The shortest wait, whatever the jitter draws: for a caller that promises its users a
   * minimum backoff (the consumer's `retryMinDelayMs`). At most `maxDelayMs`. @defaultValue 0
   */
  readonly minWaitMs?: number;
  /** Which failures may succeed when tried again. @defaultValue {@link isRetriable} (the error's `retriable` flag) */
  readonly retriable?: (error: unknown) => boolean;
  /** The source of jitter, in [0, 1). @defaultValue Math.random */
  readonly random?: () => number;
  /** How to wait. @defaultValue {@link sleep} (a fake clock in tests) */
  readonly sleep?: Sleeper;
}

/** What a policy says after a failure: try again after `delayMs`, or stop and why. */
export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: 'not-retriable' | 'exhausted' };

/** A retry that {@link RetryPolicy.run} is about to wait for. */
export interface RetryNotice {
  /** The attempt that failed (1-based, counted from the history's start). */
  readonly attempt: number;
  readonly error: unknown;
  readonly delayMs: number;
}

/** Options of one {@link RetryPolicy.run}. */
export interface RetryRunOptions {
  /** Ends a wait at once; no attempt starts after it aborts. */
  readonly signal?: AbortSignal;
  /** Failures that came before this run (a message's history): the first attempt is `failures + 1`. @defaultValue 0 */
  readonly failures?: number;
  /** Called with every failure, in order, before the policy decides. */
  readonly onFailure?: (error: unknown, attempt: number) => void;
  /** Called before each wait for a retry. */
  readonly onRetry?: (notice: RetryNotice) => void;
}

/** How a {@link RetryPolicy.run} ended without a result. */
export type RetryStop = 'not-retriable' | 'exhausted' | 'aborted';

/**
 * Thrown by {@link RetryPolicy.run} when it gives up: `cause` is the last failure (undefined
 * when aborted before any attempt) and `attempts` how many were made in all.
 */
export class RetryStopped extends OnceflowError {
  /** Why no further attempt was made. */
  readonly reason: RetryStop;
  /** Attempts made in all, earlier failures included. */
  readonly attempts: number;

  constructor(reason: RetryStop, attempts: number, cause: unknown) {
    const last = cause instanceof Error ? cause.message : cause === undefined ? 'no attempt made' : String(cause);
    super(ErrorCodes.retryStopped, `Gave up after ${attempts} attempt(s) (${reason}): ${last}`, { cause });
    this.reason = reason;
    this.attempts = attempts;
  }
}

/**
 * The one retry policy of Onceflow: the relay's publishing, the consumer's handler attempts,
 * the subscriber's recovery and `migrate` all decide and wait through it.
 *
 * After `n` failures the next attempt waits `step(n) / 2 + random * step(n) / 2`, where
 * `step(n) = min(maxDelayMs, minDelayMs * 2^(n - 1))`: exponential growth with "equal
 * jitter", so processes that failed together do not retry together, while no wait drops below
 * half its step (nor below `minWaitMs`, when set). A failure is retried only while it is retriable (by default its `retriable`
 * flag: {@link isRetriable}) and attempts remain.
 */
export class RetryPolicy {
  readonly maxAttempts: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  readonly minWaitMs: number;
  readonly #retriable: (error: unknown) => boolean;
  readonly #random: () => number;
  readonly #sleep: Sleeper;

  constructor(options: RetryPolicyOptions) {
    const { maxAttempts, minDelayMs, maxDelayMs } = options;
    if (!(maxAttempts >= 1) || (!Number.isInteger(maxAttempts) && maxAttempts !== Number.POSITIVE_INFINITY)) {
      throw new RangeError(`RetryPolicy maxAttempts must be an integer >= 1 or Infinity, received ${maxAttempts}`);
    }
    if (!Number.isFinite(minDelayMs) || minDelayMs < 0) throw new RangeError(`RetryPolicy minDelayMs must be >= 0, received ${minDelayMs}`);
    if (!Number.isFinite(maxDelayMs) || maxDelayMs < minDelayMs) {
      throw new RangeError(`RetryPolicy maxDelayMs must be >= minDelayMs (${minDelayMs}), received ${maxDelayMs}`);
    }
    const minWaitMs = options.minWaitMs ?? 0;
    if (!Number.isFinite(minWaitMs) || minWaitMs < 0 || minWaitMs > maxDelayMs) {
      throw new RangeError(`RetryPolicy minWaitMs must be between 0 and maxDelayMs (${maxDelayMs}), received ${minWaitMs}`);
    }
    this.maxAttempts = maxAttempts;
    this.minDelayMs = minDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.minWaitMs = minWaitMs;
    this.#retriable = options.retriable ?? isRetriable;
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? sleep;
  }

  /** The wait before the next attempt after `failures` failures (1 = the first retry). */
  delayMs(failures: number): number {
    const step = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** Math.min(Math.max(failures - 1, 0), 40));
    const half = step / 2;
    return Math.max(this.minWaitMs, Math.round(half + this.#random() * half));
  }

  /** Whether `error` may succeed when tried again, by this policy's judgement. */
  isRetriable(error: unknown): boolean {
    return this.#retriable(error);
  }

  /** What to do after `failures` failures in all, the last being `error`. */
  decide(error: unknown, failures: number): RetryDecision {
    if (!this.#retriable(error)) return { retry: false, reason: 'not-retriable' };
    if (failures >= this.maxAttempts) return { retry: false, reason: 'exhausted' };
    return { retry: true, delayMs: this.delayMs(failures) };
  }

  /** Waits `ms` with this policy's clock; false when `signal` aborted the wait. */
  wait(ms: number, signal?: AbortSignal): Promise<boolean> {
    return this.#sleep(ms, signal);
  }

  /**
   * Runs `attempt` until it succeeds, then resolves with its result. Between failures it waits
   * as {@link RetryPolicy.delayMs} says; it throws {@link RetryStopped} once a failure is not
   * retriable, the attempts are spent, or `signal` aborts. `attempt` receives its number.
   */
  async run<T>(attempt: (attemptNumber: number) => Promise<T>, options: RetryRunOptions = {}): Promise<T> {
    const { signal, onFailure, onRetry } = options;
    let failures = options.failures ?? 0;
    let last: unknown;
    for (;;) {
      if (isAborted(signal)) throw new RetryStopped('aborted', failures, last);
      try {
        return await attempt(failures + 1);
      } catch (error) {
        failures++;
        last = error;
        onFailure?.(error, failures);
        const decision = this.decide(error, failures);
        if (!decision.retry) throw new RetryStopped(decision.reason, failures, error);
        if (isAborted(signal)) throw new RetryStopped('aborted', failures, error);
        onRetry?.({ attempt: failures, error, delayMs: decision.delayMs });
        if (!(await this.#sleep(decision.delayMs, signal))) throw new RetryStopped('aborted', failures, error);
      }
    }
  }
}

/** Read through a call, so a check after an await is not narrowed away by an earlier one. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
