import type { Logger } from '@onceflow/core';
import type { RedisClient } from './redis-client.ts';

/**
 * Redis in front of the transactional inbox. It only ever answers "already done": an entry is
 * written after the inbox row committed, so a hit is safe to skip. A miss, a timeout or a Redis
 * outage falls through to the database, which stays the authority.
 */
export class RedisFastPath {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #timeoutMs: number;
  readonly #logger: Logger;

  constructor(redis: RedisClient, prefix: string, ttlMs: number, timeoutMs: number, logger: Logger) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#ttlMs = ttlMs;
    this.#timeoutMs = timeoutMs;
    this.#logger = logger;
  }

  /** The dedup keys Redis knows as done; empty on any Redis trouble. */
  async done(dedupKeys: readonly string[]): Promise<Set<string>> {
    if (dedupKeys.length === 0) return new Set();
    try {
      const values = await withTimeout(this.#redis.mget(dedupKeys.map((k) => this.#prefix + k)), this.#timeoutMs);
      const out = new Set<string>();
      values.forEach((v, i) => {
        if (v !== null) out.add(dedupKeys[i] as string);
      });
      return out;
    } catch (error) {
      this.#logger.debug({ error }, 'Redis fast path unavailable; asking the database');
      return new Set();
    }
  }

  /** Records keys whose inbox rows committed. Fire and forget: a lost write only costs a DB check. */
  remember(dedupKeys: readonly string[]): void {
    if (dedupKeys.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const k of dedupKeys) pipeline.set(this.#prefix + k, '1', 'PX', this.#ttlMs);
    withTimeout(pipeline.exec(), this.#timeoutMs).catch((error: unknown) => {
      this.#logger.debug({ error }, 'Redis fast path write failed; the database still has the rows');
    });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
