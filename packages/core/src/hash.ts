/**
 * 32-bit FNV-1a over UTF-8 bytes. Used for the relay's shard of a (topic, key) and for
 * advisory lock ids; it must never change once rows carry it, since a shard is stored with
 * each row.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  const bytes = Buffer.from(text, 'utf8');
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Number of relay shards. Fixed by the schema: every row stores its shard. */
export const SHARD_COUNT = 32;

/** The shard of the ordering unit `(topic, key)`. */
export function shardOf(topic: string, key: string): number {
  return fnv1a32(`${topic}\u0000${key}`) % SHARD_COUNT;
}

/**
 * A signed 64-bit advisory lock id for `(topic, key)` in the given namespace, as a decimal
 * string for PostgreSQL's `pg_advisory_xact_lock(bigint)`.
 */
export function keyLockId(schema: string, topic: string, key: string): string {
  const high = fnv1a32(`onceflow:${schema}:${topic}`);
  const low = fnv1a32(`${topic}\u0000${key}\u0000${schema}`);
  return BigInt.asIntN(64, (BigInt(high) << 32n) | BigInt(low)).toString();
}
