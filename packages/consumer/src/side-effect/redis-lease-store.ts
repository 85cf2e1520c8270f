import { intOption, requiredOption, stringOption } from '@onceflow/core';
import { LeaseStoreError } from '../errors.ts';
import type { RedisClient } from '../redis-client.ts';
import type { LeaseAcquisition, LeaseStore } from './lease-store.ts';

/** Options of {@link RedisLeaseStore}. */
export interface RedisLeaseStoreOptions {
  /** An ioredis client. */
  redis?: RedisClient;
  /** Key prefix. @defaultValue "onceflow:effect:" */
  prefix?: string;
  /**
   * How long a record (its fencing token while processing, its `done` mark after) is kept.
   * Keep it above the redelivery horizon. @defaultValue 604800000 (seven days)
   */
  recordTtlMs?: number;
}

// Scripts run atomically in Redis and read its clock (TIME), so clients' clocks never matter.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const ACQUIRE = `${NOW}
local h = redis.call('HMGET', KEYS[1], 'status', 'token', 'lease')
if h[1] == 'done' then return {'done', 0} end
if h[1] == 'processing' and tonumber(h[3]) > now then return {'busy', tonumber(h[3]) - now} end
local token = (tonumber(h[2]) or 0) + 1
redis.call('HSET', KEYS[1], 'status', 'processing', 'token', token, 'lease', now + tonumber(ARGV[1]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {'acquired', token}`;

// ARGV: token, change, lease ms, record ttl ms. Nothing changes unless the token is current.
const CHANGE = `${NOW}
local h = redis.call('HMGET', KEYS[1], 'status', 'token')
if h[1] ~= 'processing' or h[2] ~= ARGV[1] then return 0 end
if ARGV[2] == 'complete' then
  redis.call('HSET', KEYS[1], 'status', 'done', 'lease', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
elseif ARGV[2] == 'release' then
  redis.call('HSET', KEYS[1], 'lease', 0)
else
  redis.call('HSET', KEYS[1], 'lease', now + tonumber(ARGV[3]))
end
return 1`;

/** Side-effect records in Redis hashes (status, fencing token, lease end), changed by Lua scripts. */
export class RedisLeaseStore implements LeaseStore {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #ttlMs: number;

  constructor(options: RedisLeaseStoreOptions) {
    this.#redis = requiredOption('redis', options.redis, 'an ioredis client');
    this.#prefix = stringOption('prefix', options.prefix, 'onceflow:effect:');
    this.#ttlMs = intOption('recordTtlMs', options.recordTtlMs, 604_800_000, 1_000);
  }

  async acquire(consumer: string, dedupKey: string, leaseMs: number): Promise<LeaseAcquisition> {
    let reply: [string, number];
    try {
      reply = (await this.#redis.eval(ACQUIRE, 1, this.#key(consumer, dedupKey), leaseMs, this.#ttlMs)) as [string, number];
    } catch (error) {
      throw new LeaseStoreError('acquire', error);
    }
    const [state, n] = reply;
    if (state === 'done') return { state: 'done' };
    if (state === 'busy') return { state: 'busy', retryInMs: Number(n) };
    return { state: 'acquired', fencingToken: Number(n) };
  }

  complete(consumer: string, dedupKey: string, fencingToken: number): Promise<boolean> {
    return this.#change('complete', consumer, dedupKey, fencingToken, 0);
  }

  release(consumer: string, dedupKey: string, fencingToken: number): Promise<boolean> {
    return this.#change('release', consumer, dedupKey, fencingToken, 0);
  }

  extend(consumer: string, dedupKey: string, fencingToken: number, leaseMs: number): Promise<boolean> {
    return this.#change('extend', consumer, dedupKey, fencingToken, leaseMs);
  }

  async isDone(consumer: string, dedupKey: string): Promise<boolean> {
    try {
      return (await this.#redis.hget(this.#key(consumer, dedupKey), 'status')) === 'done';
    } catch (error) {
      throw new LeaseStoreError('isDone', error);
    }
  }

  async #change(change: string, consumer: string, dedupKey: string, token: number, leaseMs: number): Promise<boolean> {
    try {
      const reply = await this.#redis.eval(CHANGE, 1, this.#key(consumer, dedupKey), String(token), change, leaseMs, this.#ttlMs);
      return Number(reply) === 1;
    } catch (error) {
      throw new LeaseStoreError(change, error);
    }
  }

  #key(consumer: string, dedupKey: string): string {
    // Length-prefixing the consumer keeps ("a:b", "c") and ("a", "b:c") apart.
    return `${this.#prefix}${consumer.length}:${consumer}:${dedupKey}`;
  }
}
