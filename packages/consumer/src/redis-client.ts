/**
 * The part of a Redis client that Onceflow calls, so that its public types do not depend on
 * ioredis (an optional peer: only the Redis fast path and the Redis lease store use it). An
 * ioredis `Redis` instance fits.
 */
export interface RedisClient {
  mget(keys: string[]): Promise<Array<string | null>>;
  hget(key: string, field: string): Promise<string | null>;
  pipeline(): RedisPipeline;
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

/** The commands Onceflow queues on a {@link RedisClient} pipeline. */
export interface RedisPipeline {
  set(key: string, value: string, expiryMode: 'PX', milliseconds: number): unknown;
  exec(): Promise<unknown>;
}
