/**
 * How many shards one relay should own when `liveRelays` relays share `shardCount` shards:
 * the ceiling, so the shares always cover every shard (a few relays then own one fewer).
 */
export function shardShare(shardCount: number, liveRelays: number): number {
  return Math.ceil(shardCount / Math.max(1, liveRelays));
}

/** What a relay owning `owned` shards should do to reach its share: claim or release how many. */
export function leasePlan(owned: number, share: number): { claim: number; release: number } {
  if (owned < share) return { claim: share - owned, release: 0 };
  return { claim: 0, release: owned - share };
}
