import { describe, expect, it } from 'vitest';
import { FatalHandlerError, OnceflowError } from './errors.ts';
import type { Sleeper } from './retry-policy.ts';
import { RetryPolicy, RetryStopped, sleep } from './retry-policy.ts';

/** A clock that records every wait and never really waits. */
function fakeClock(): { waits: number[]; sleep: Sleeper } {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms, signal) => {
      waits.push(ms);
      return signal?.aborted !== true;
    },
  };
}

describe('RetryPolicy', () => {
  it('grows the step exponentially up to the cap, with equal jitter', () => {
    const low = new RetryPolicy({ maxAttempts: 10, minDelayMs: 100, maxDelayMs: 1_000, random: () => 0 });
    const high = new RetryPolicy({ maxAttempts: 10, minDelayMs: 100, maxDelayMs: 1_000, random: () => 0.999_999 });
    expect([1, 2, 3, 4, 5, 6].map((n) => low.delayMs(n))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map((n) => high.delayMs(n))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    // A huge failure count does not overflow into Infinity or NaN.
    expect(high.delayMs(10_000)).toBe(1_000);
  });

  it('never waits less than minWaitMs, whatever the jitter draws', () => {
    const low = new RetryPolicy({ maxAttempts: 10, minDelayMs: 200, maxDelayMs: 1_000, minWaitMs: 100, random: () => 0 });
    const high = new RetryPolicy({ maxAttempts: 10, minDelayMs: 200, maxDelayMs: 1_000, minWaitMs: 100, random: () => 0.999_999 });
    expect([1, 2, 3, 4].map((n) => low.delayMs(n))).toEqual([100, 200, 400, 500]);
    expect([1, 2, 3, 4].map((n) => high.delayMs(n))).toEqual([200, 400, 800, 1_000]);
    const flat = new RetryPolicy({ maxAttempts: 3, minDelayMs: 2_000, maxDelayMs: 2_000, minWaitMs: 2_000, random: () => 0 });
    expect(flat.delayMs(1)).toBe(2_000);
    expect(() => new RetryPolicy({ maxAttempts: 1, minDelayMs: 1, maxDelayMs: 2, minWaitMs: 3 })).toThrow(/minWaitMs .* received 3/);
  });

  it('retries retriable failures until the attempts are spent', async () => {
    const clock = fakeClock();
    const policy = new RetryPolicy({ maxAttempts: 3, minDelayMs: 10, maxDelayMs: 100, random: () => 0, sleep: clock.sleep });
    const seen: number[] = [];
    const failures: number[] = [];
    const error = await policy
      .run(
        async (attempt) => {
          seen.push(attempt);
          throw new Error(`boom ${attempt}`);
        },
        { onFailure: (_e, attempt) => failures.push(attempt) },
      )
      .catch((e: unknown) => e);
    expect(seen).toEqual([1, 2, 3]);
    expect(failures).toEqual([1, 2, 3]);
    expect(clock.waits).toEqual([5, 10]);
    expect(error).toBeInstanceOf(RetryStopped);
    expect(error).toBeInstanceOf(OnceflowError);
    expect((error as RetryStopped).reason).toBe('exhausted');
    expect((error as RetryStopped).attempts).toBe(3);
    expect(((error as RetryStopped).cause as Error).message).toBe('boom 3');
  });

  it('stops at once on a failure that is not retriable', async () => {
    const clock = fakeClock();
    const policy = new RetryPolicy({ maxAttempts: 5, minDelayMs: 10, maxDelayMs: 100, sleep: clock.sleep });
    let calls = 0;
    const error = await policy
      .run(async () => {
        calls++;
        throw new FatalHandlerError('no');
      })
      .catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(clock.waits).toEqual([]);
    expect((error as RetryStopped).reason).toBe('not-retriable');
  });

  it('continues a history: earlier failures count against the attempts', async () => {
    const clock = fakeClock();
    const policy = new RetryPolicy({ maxAttempts: 4, minDelayMs: 10, maxDelayMs: 100, random: () => 0, sleep: clock.sleep });
    const seen: number[] = [];
    const notices: number[] = [];
    const result = await policy.run(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 4) throw new Error('again');
        return 'done';
      },
      { failures: 2, onRetry: (n) => notices.push(n.attempt) },
    );
    expect(result).toBe('done');
    expect(seen).toEqual([3, 4]);
    expect(notices).toEqual([3]);
    expect(clock.waits).toEqual([20]);
  });

  it('an aborted signal ends the wait and starts no further attempt', async () => {
    const abort = new AbortController();
    const policy = new RetryPolicy({ maxAttempts: Number.POSITIVE_INFINITY, minDelayMs: 60_000, maxDelayMs: 60_000 });
    let calls = 0;
    const running = policy
      .run(
        async () => {
          calls++;
          throw new Error('down');
        },
        { signal: abort.signal, onRetry: () => abort.abort() },
      )
      .catch((e: unknown) => e);
    const error = await running;
    expect(calls).toBe(1);
    expect((error as RetryStopped).reason).toBe('aborted');
  });

  it('lets a custom judgement of retriable decide', () => {
    const policy = new RetryPolicy({
      maxAttempts: Number.POSITIVE_INFINITY,
      minDelayMs: 1,
      maxDelayMs: 2,
      retriable: (e) => (e as Error).message === 'broker down',
    });
    expect(policy.decide(new Error('broker down'), 1_000).retry).toBe(true);
    expect(policy.decide(new Error('bad record'), 1)).toEqual({ retry: false, reason: 'not-retriable' });
  });

  it('refuses settings that cannot work, naming the value', () => {
    expect(() => new RetryPolicy({ maxAttempts: 0, minDelayMs: 1, maxDelayMs: 2 })).toThrow(/maxAttempts .* received 0/);
    expect(() => new RetryPolicy({ maxAttempts: 1.5, minDelayMs: 1, maxDelayMs: 2 })).toThrow(/received 1.5/);
    expect(() => new RetryPolicy({ maxAttempts: 1, minDelayMs: 10, maxDelayMs: 2 })).toThrow(/maxDelayMs .* received 2/);
  });
});

describe('sleep', () => {
  it('answers false at once when aborted, true after the time', async () => {
    const abort = new AbortController();
    abort.abort();
    expect(await sleep(60_000, abort.signal)).toBe(false);
    expect(await sleep(1)).toBe(true);
    const later = new AbortController();
    const waiting = sleep(60_000, later.signal);
    later.abort();
    expect(await waiting).toBe(false);
  });
});
