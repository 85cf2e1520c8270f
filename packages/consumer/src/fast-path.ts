import { createHash } from 'node:crypto';
import type { Logger } from '@onceflow/core';
import { withTimeout } from '@onceflow/core';
import type { RedisClient } from './redis-client.ts';

/** One message as the fast path files it: its inbox scope ('' or the topic) and dedup key. */
export interface FastPathEntry {
  readonly scope: string;
  readonly dedupKey: string;
}

/** Where a {@link RedisFastPath} files its entries. */
export interface FastPathNamespace {
  /** The operator's key prefix, e.g. "onceflow:inbox:". */
  readonly prefix: string;
  readonly schema: string;
  readonly consumer: string;
}

/**
 * The Redis key of an entry: the prefix, schema and consumer in plain text (so an operator
 * can scan one consumer's entries), then a SHA-256 over schema, consumer, scope and dedup key,
 * each framed by its UTF-8 length. A hit skips a message without asking the database, so two
 * different (schema, consumer, scope, key) tuples must never spell one Redis key: with plain
 * separators alone, consumer "a:b" with key "c" and consumer "a" with key "b:c" would. The
 * scope is 't' plus the topic, or 'c' for consumer scope, so a key in one scope never reads as
 * the other's; the hash also bounds the key's size whatever the dedup key's.
 */
export function fastPathKey(ns: FastPathNamespace, entry: FastPathEntry): string {
  const frame = (part: string) => `${Buffer.byteLength(part, 'utf8')}:${part}:`;
  const scope = entry.scope === '' ? 'c' : `t${entry.scope}`;
  const digest = createHash('sha256')
    .update(`${frame(ns.schema)}${frame(ns.consumer)}${frame(scope)}${frame(entry.dedupKey)}`, 'utf8')
    .digest('base64url');
  return `${ns.prefix}${ns.schema}:${ns.consumer}:${digest}`;
}

/** Settings of a {@link RedisFastPath}. */
export interface FastPathSettings extends FastPathNamespace {
  readonly ttlMs: number;
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/**
 * Redis in front of the transactional inbox. It only ever answers "already done": an entry is
 * written after the inbox row committed, so a hit is safe to skip. A miss, a timeout or a Redis
 * outage falls through to the database, which stays the authority.
 */
export class RedisFastPath {
  readonly #redis: RedisClient;
  readonly #settings: FastPathSettings;

  constructor(redis: RedisClient, settings: FastPathSettings) {
    this.#redis = redis;
    this.#settings = settings;
  }

  /** Indices of the entries Redis knows as done; empty on any Redis trouble. */
  async done(entries: readonly FastPathEntry[]): Promise<Set<number>> {
    if (entries.length === 0) return new Set();
    try {
      const keys = entries.map((e) => fastPathKey(this.#settings, e));
      const values = await withTimeout(this.#redis.mget(keys), this.#settings.timeoutMs, 'Redis');
      const out = new Set<number>();
      values.forEach((v, i) => {
        if (v !== null) out.add(i);
      });
      return out;
    } catch (error) {
      this.#settings.logger.debug({ error }, 'Redis fast path unavailable; asking the database');
      return new Set();
    }
  }

  /** Records entries whose inbox rows committed. Fire and forget: a lost write only costs a DB check. */
  remember(entries: readonly FastPathEntry[]): void {
    if (entries.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const e of entries) pipeline.set(fastPathKey(this.#settings, e), '1', 'PX', this.#settings.ttlMs);
    withTimeout(pipeline.exec(), this.#settings.timeoutMs, 'Redis').catch((error: unknown) => {
      this.#settings.logger.debug({ error }, 'Redis fast path write failed; the database still has the rows');
    });
  }
}
