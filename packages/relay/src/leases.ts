import type { ShardLease } from './sql/claim-shards.ts';

/** A lease as this relay tracks it. */
export interface HeldLease extends ShardLease {
  /** End of local validity on this process's monotonic clock (`performance.now()`). */
  validUntil: number;
  /** Asked to hand the shard over once its current batch is done. */
  draining: boolean;
  /**
   * The shard may have rows that hold back later rows of their key (failed and waiting, or
   * dead under onDead 'block'), so claims must look for them. True from the claim of the lease
   * until a check finds none; set again whenever this relay records a failure in the shard.
   */
  mayHoldKeys: boolean;
  /** Bumped on every failure recorded in the shard, so a check that raced one is not trusted. */
  holdsVersion: number;
}

/**
 * The leases this relay holds. Validity is judged by the local monotonic clock from the
 * moment the claim or renewal was *sent*, minus a margin, so it ends before the database's
 * `lease_until` does: a paused relay (GC, SIGSTOP) notices on waking that it may no longer
 * publish, even before it can reach the database.
 */
export class LeaseTable {
  readonly #leases = new Map<number, HeldLease>();
  readonly #validMs: number;

  constructor(leaseMs: number) {
    this.#validMs = Math.floor(leaseMs * 0.8);
  }

  /** Records a claim or renewal sent at `sentAt` (monotonic ms). */
  hold(lease: ShardLease, sentAt: number): void {
    const existing = this.#leases.get(lease.shard);
    const validUntil = sentAt + this.#validMs;
    if (existing !== undefined && existing.token === lease.token) existing.validUntil = validUntil;
    else this.#leases.set(lease.shard, { ...lease, validUntil, draining: existing?.draining ?? false, mayHoldKeys: true, holdsVersion: 0 });
  }

  /** A failure is being (or was just) recorded in `shard`: claims must look for held keys. */
  failureRecorded(shard: number): void {
    const lease = this.#leases.get(shard);
    if (lease === undefined) return;
    lease.mayHoldKeys = true;
    lease.holdsVersion++;
  }

  get(shard: number): HeldLease | undefined {
    return this.#leases.get(shard);
  }

  /** True while `shard` is held with `token` and locally still valid. */
  isValid(shard: number, token: string, now: number = performance.now()): boolean {
    const lease = this.#leases.get(shard);
    return lease !== undefined && lease.token === token && now < lease.validUntil;
  }

  drop(shard: number): HeldLease | undefined {
    const lease = this.#leases.get(shard);
    this.#leases.delete(shard);
    return lease;
  }

  all(): HeldLease[] {
    return [...this.#leases.values()];
  }

  get size(): number {
    return this.#leases.size;
  }
}
