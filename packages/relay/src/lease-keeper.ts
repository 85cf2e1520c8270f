import type { TypedEmitter } from '@onceflow/core';
import { SHARD_COUNT } from '@onceflow/core';
import type { RelayEvents } from './events.ts';
import { leasePlan, shardShare } from './lease-share.ts';
import type { LeaseTable } from './leases.ts';
import type { ResolvedRelayOptions } from './options.ts';
import type { RelaySql } from './relay-sql.ts';

/** What a {@link LeaseKeeper} needs from its relay. */
export interface LeaseKeeperContext {
  readonly options: ResolvedRelayOptions;
  readonly leases: LeaseTable;
  readonly events: TypedEmitter<RelayEvents>;
  /** The statements of the database's dialect. */
  readonly sql: RelaySql;
  isStopping(): boolean;
  /** Wakes the lanes serving `shards` (new leases, shards to hand over). */
  wake(shards: readonly number[]): void;
}

/** The pending backlog of a relay's shards, as seen at the last tick. */
export interface ShardBacklog {
  readonly backlog: number;
  readonly oldestPendingAgeMs: number | null;
}

/**
 * A relay's lease loop, every third of `leaseMs`: heartbeat, renew the leases held, then move
 * towards this relay's share of shards (hand the excess over, each once its lane's current
 * batch is done, or claim free and expired leases), check which held shards may hold keys,
 * and read the backlog.
 */
export class LeaseKeeper {
  readonly #ctx: LeaseKeeperContext;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #backlog: ShardBacklog = { backlog: 0, oldestPendingAgeMs: null };
  readonly #ticks: { attemptedAt: number | null; succeededAt: number | null } = { attemptedAt: null, succeededAt: null };

  constructor(ctx: LeaseKeeperContext) {
    this.#ctx = ctx;
  }

  /** Runs the first tick, then schedules the next ones until {@link LeaseKeeper.stop}. */
  async start(): Promise<void> {
    await this.#runTick();
    this.#schedule();
  }

  /** Schedules no further tick; resolves once a tick under way is done. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** The backlog seen at the last tick. */
  get backlog(): ShardBacklog {
    return this.#backlog;
  }

  /** When the loop last ran and last succeeded (epoch ms). */
  ticks(): { readonly attemptedAt: number | null; readonly succeededAt: number | null } {
    return { ...this.#ticks };
  }

  /** The lease of `shard` with `token` is gone (taken over by another relay). */
  leaseLost(shard: number, token: string): void {
    const { leases, events, options } = this.#ctx;
    if (leases.get(shard)?.token !== token) return;
    leases.drop(shard);
    events.emit('relay:lease:lost', { shard, fencingToken: token, reason: 'taken' });
    options.logger.warn({ shard, fencingToken: token }, 'Shard lease lost to another relay');
  }

  #schedule(): void {
    if (this.#ctx.isStopping()) return;
    this.#timer = setTimeout(
      async () => {
        await this.#runTick();
        this.#schedule();
      },
      Math.floor(this.#ctx.options.leaseMs / 3),
    );
  }

  async #runTick(): Promise<void> {
    this.#ticks.attemptedAt = Date.now();
    this.#running = this.#tick().then(
      () => {
        this.#ticks.succeededAt = Date.now();
      },
      (error: unknown) => {
        this.#ctx.events.emit('relay:error', { error, during: 'lease tick' });
        this.#ctx.options.logger.error({ error }, 'Lease tick failed; held leases stay valid until they expire');
      },
    );
    await this.#running;
  }

  async #tick(): Promise<void> {
    const { options, leases } = this.#ctx;
    const { knex, tables, relayId, leaseMs, logger } = options;
    const live = await this.#ctx.sql.heartbeat(knex, tables, relayId, leaseMs);

    const sentAt = performance.now();
    const held = leases.all();
    const renewed = new Set(await this.#ctx.sql.renewShards(knex, tables, relayId, held, leaseMs));
    for (const lease of held) {
      if (renewed.has(lease.shard)) leases.renew(lease, sentAt);
      else this.leaseLost(lease.shard, lease.token);
    }
    if (this.#ctx.isStopping()) return;

    const active = leases.all().filter((l) => !l.draining);
    const plan = leasePlan(active.length, shardShare(SHARD_COUNT, live));
    for (const lease of plan.release > 0 ? active.slice(-plan.release) : []) {
      leases.drain(lease.shard);
      this.#ctx.wake([lease.shard]);
      logger.info({ shard: lease.shard, liveRelays: live }, 'Handing shard over to balance relays');
    }
    const claimed = plan.release === 0 && plan.claim > 0 ? await this.#claim(plan.claim) : [];
    // Before new shards are worked on, so their first claims already know whether to probe.
    await this.#checkHeldKeys();
    this.#ctx.wake(claimed);
    this.#backlog = await this.#ctx.sql.selectShardBacklog(knex, tables, leases.shards());
  }

  /** Claims up to `count` free or expired shard leases; answers the shards gained. */
  async #claim(count: number): Promise<number[]> {
    const { options, leases, events } = this.#ctx;
    const { knex, tables, relayId, leaseMs, logger } = options;
    const claimedAt = performance.now();
    const claimed = await this.#ctx.sql.claimShards(knex, tables, relayId, count, leaseMs);
    for (const lease of claimed) {
      leases.hold(lease, claimedAt);
      events.emit('relay:lease:gained', { shard: lease.shard, fencingToken: lease.token });
      logger.debug({ shard: lease.shard, fencingToken: lease.token }, 'Shard lease gained');
    }
    return claimed.map((l) => l.shard);
  }

  /**
   * Clears `mayHoldKeys` of held shards found to have no holding row, so their claims skip
   * that probe. A shard whose failures were recorded while the check ran keeps it.
   */
  async #checkHeldKeys(): Promise<void> {
    const { options, leases } = this.#ctx;
    const suspects = leases.all().filter((l) => l.mayHoldKeys);
    if (suspects.length === 0) return;
    const holding = await this.#ctx.sql.shardsHoldingKeys(
      options.knex,
      options.tables,
      suspects.map((l) => l.shard),
    );
    for (const lease of suspects) if (!holding.has(lease.shard)) leases.clearHoldsKeys(lease.shard, lease.holdsVersion);
  }
}
