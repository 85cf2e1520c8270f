import type { ShardLease } from './sql/claim-shards.ts';

/** A lease as this relay tracks it: a snapshot, changed only through {@link LeaseTable}'s methods. */
export interface HeldLease extends Readonly<ShardLease> {
  /** End of local validity on this process's monotonic clock (`performance.now()`). */
  readonly validUntil: number;
  /** Asked to hand the shard over once its current batch is done. */
  readonly draining: boolean;
  /**
   * The shard may have rows that hold back later rows of their key (failed and waiting, or
   * dead under onDead 'block'), so claims must look for them. True from the claim of the lease
   * until a check finds none; set again whenever this relay records a failure in the shard.
   */
  readonly mayHoldKeys: boolean;
  /**
   * Changes on every failure recorded in the shard and is never shared by two leases, so a
   * check for held keys that raced a failure, or a new lease of the shard, is not trusted.
   */
  readonly holdsVersion: number;
}

/** The mutable record behind a {@link HeldLease}; never leaves the table. */
type LeaseState = { -readonly [K in keyof HeldLease]: HeldLease[K] };

/**
 * The leases this relay holds. Validity is judged by the local monotonic clock from the
 * moment the claim or renewal was *sent*, minus a margin, so it ends before the database's
 * `lease_until` does: a paused relay (GC, SIGSTOP) notices on waking that it may no longer
 * publish, even before it can reach the database.
 *
 * Every state change goes through a method here; readers get frozen snapshots.
 */
export class LeaseTable {
  readonly #leases = new Map<number, LeaseState>();
  readonly #validMs: number;
  #versions = 0;

  constructor(leaseMs: number) {
    this.#validMs = Math.floor(leaseMs * 0.8);
  }

  /** Records a claim or renewal sent at `sentAt` (monotonic ms). */
  hold(lease: ShardLease, sentAt: number): void {
    const existing = this.#leases.get(lease.shard);
    const validUntil = sentAt + this.#validMs;
    if (existing !== undefined && existing.token === lease.token) {
      existing.validUntil = validUntil;
      return;
    }
    this.#leases.set(lease.shard, {
      shard: lease.shard,
      token: lease.token,
      validUntil,
      draining: existing?.draining ?? false,
      mayHoldKeys: true,
      holdsVersion: ++this.#versions,
    });
  }

  /**
   * Records a renewal sent at `sentAt`, for a lease still held with the same token. A lease
   * handed over or lost while the renewal was under way stays gone: the renewal must not bring
   * it back, as another relay may claim the shard at once.
   */
  renew(lease: ShardLease, sentAt: number): void {
    const existing = this.#leases.get(lease.shard);
    if (existing !== undefined && existing.token === lease.token) existing.validUntil = sentAt + this.#validMs;
  }

  /** Asks for `shard` to be handed over once its current batch is done. */
  drain(shard: number): void {
    const lease = this.#leases.get(shard);
    if (lease !== undefined) lease.draining = true;
  }

  /**
   * Runs `write`, which records failures in `shards`, so that claims look for held keys both
   * while it runs and after. The version is bumped before the write, so claims probe while
   * it is under way, and again once it settled: a check for held keys (see
   * {@link clearHoldsKeys}) whose query ran before the write committed saw none of its rows,
   * and must not be trusted.
   */
  async recordingFailures<T>(shards: Iterable<number>, write: () => Promise<T>): Promise<T> {
    const touched = [...new Set(shards)];
    this.#failureRecorded(touched);
    try {
      return await write();
    } finally {
      this.#failureRecorded(touched);
    }
  }

  #failureRecorded(shards: readonly number[]): void {
    for (const shard of shards) {
      const lease = this.#leases.get(shard);
      if (lease === undefined) continue;
      lease.mayHoldKeys = true;
      lease.holdsVersion = ++this.#versions;
    }
  }

  /**
   * A check found no holding row in `shard`: its claims may skip that probe, unless a failure
   * was recorded (or the lease changed) since the check read `version`.
   */
  clearHoldsKeys(shard: number, version: number): void {
    const lease = this.#leases.get(shard);
    if (lease !== undefined && lease.holdsVersion === version) lease.mayHoldKeys = false;
  }

  /** Whether claims of any of `shards` must look for held keys. */
  mayHoldKeys(shards: readonly number[]): boolean {
    return shards.some((shard) => this.#leases.get(shard)?.mayHoldKeys === true);
  }

  /** The lease of `shard`, if held. */
  get(shard: number): HeldLease | undefined {
    const lease = this.#leases.get(shard);
    return lease === undefined ? undefined : snapshot(lease);
  }

  /** True while `shard` is held with `token` and locally still valid at `now` (monotonic ms). */
  isValid(shard: number, token: string, now: number = performance.now()): boolean {
    const lease = this.#leases.get(shard);
    return lease !== undefined && lease.token === token && now < lease.validUntil;
  }

  /** Forgets the lease of `shard`; answers what it was. */
  drop(shard: number): HeldLease | undefined {
    const lease = this.#leases.get(shard);
    this.#leases.delete(shard);
    return lease === undefined ? undefined : snapshot(lease);
  }

  /** Every lease held, in the order they were gained. */
  all(): HeldLease[] {
    return [...this.#leases.values()].map(snapshot);
  }

  /** The shards held. */
  shards(): number[] {
    return [...this.#leases.keys()];
  }

  /** How many leases are held. */
  get size(): number {
    return this.#leases.size;
  }
}

function snapshot(lease: LeaseState): HeldLease {
  return Object.freeze({ ...lease });
}
