import { assertPeerVersion, checkReplication, checkSchemaVersion, knexConnectionSettings, SHARD_COUNT, TypedEmitter } from '@onceflow/core';
import type { RelayEvents, RelayStats } from './events.ts';
import type { Counters } from './lane.ts';
import { Lane } from './lane.ts';
import { LaneLayout } from './lane-layout.ts';
import { leasePlan, shardShare } from './lease-share.ts';
import { LeaseTable } from './leases.ts';
import { NotificationListener } from './listener.ts';
import type { RelayOptions, ResolvedRelayOptions } from './options.ts';
import { resolveRelayOptions } from './options.ts';
import { claimShards, releaseShards, renewShards } from './sql/claim-shards.ts';
import { heartbeat, unregister } from './sql/heartbeat.ts';
import { selectShardBacklog } from './sql/outbox-status.ts';
import { selectOutboxTopics } from './sql/outbox-topics.ts';
import { pruneBatch } from './sql/prune-outbox.ts';
import { shardsHoldingKeys } from './sql/shards-holding-keys.ts';
import { TopicLimits } from './topic-limits.ts';

/** Where a relay is in its life. */
export type RelayState = 'new' | 'running' | 'stopping' | 'stopped';

/** A relay goes back to one lane once no batch has been full for this long. */
const SHRINK_AFTER_MS = 2_000;

/**
 * Publishes the outbox to the broker. Any number of relays share one outbox: rows carry a
 * shard (hash of topic and key), each relay leases about `shards / live relays` shards, and
 * only a shard's lease holder publishes its rows, in seq order, so one key is only ever in
 * flight in one relay. Leases expire when a relay dies and are handed over when relays join
 * or leave; every write is fenced by the lease's token.
 */
export class Relay {
  /** The options in force, defaults applied. */
  readonly options: ResolvedRelayOptions;
  /** Typed hooks: batches, retries, dead messages, leases, background errors. */
  readonly events = new TypedEmitter<RelayEvents>();
  readonly #leases: LeaseTable;
  #lanes: Lane[] = [];
  readonly #layout: LaneLayout;
  readonly #topicLimits: TopicLimits;
  readonly #counters: Counters = { published: 0, batches: 0, retried: 0, dead: 0, brokerFailures: 0 };
  readonly #abort = new AbortController();
  #backlog = { backlog: 0, oldestPendingAgeMs: null as number | null };
  #state: RelayState = 'new';
  #tickTimer: NodeJS.Timeout | undefined;
  #tickRunning: Promise<void> | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruneRunning: Promise<void> | undefined;
  #listener: NotificationListener | undefined;
  #stopping: Promise<void> | undefined;
  readonly #ticks: { attemptedAt: number | null; succeededAt: number | null } = { attemptedAt: null, succeededAt: null };

  constructor(options: RelayOptions) {
    assertPeerVersion('knex');
    this.options = resolveRelayOptions(options);
    this.#leases = new LeaseTable(this.options.leaseMs);
    this.#topicLimits = new TopicLimits(this.options.publisher, this.options.maxRecordBytes, this.options.logger);
    this.#layout = new LaneLayout({
      lanes: this.options.concurrency,
      shrinkAfterMs: SHRINK_AFTER_MS,
      adaptive: this.options.listen,
      wakeAll: () => this.#wake(null),
      changed: (active) => {
        this.events.emit('relay:lanes', { active });
        this.options.logger.debug(
          { activeLanes: active },
          active > 1 ? 'Backlog: publishing with every lane' : 'Caught up: publishing with one lane',
        );
      },
    });
  }

  /**
   * Checks the schema version, connects the publisher, joins the relays, claims its share of
   * shards and starts publishing. Resolves once running.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`Relay ${this.options.relayId} was already started; create a new Relay`);
    const { knex, tables, publisher, logger } = this.options;
    await checkSchemaVersion(knex, tables.schema);
    await publisher.connect();
    // The topics it will publish to are those the outbox holds rows for (new ones later get the
    // broker's defaults, which the same check would judge).
    const topics = await selectOutboxTopics(knex, tables, 1_000);
    await checkReplication(publisher.describeTopics?.bind(publisher), topics, this.options.strictReplication, logger).catch(
      async (error: unknown) => {
        await publisher.disconnect().catch(() => undefined);
        throw error;
      },
    );
    this.#state = 'running';
    if (this.options.listen) {
      const connection =
        this.options.listenConnection ??
        (await knexConnectionSettings(knex).catch((error: unknown) => {
          // A connection function of the user's can fail; LISTEN only speeds relays up, polling remains.
          logger.warn({ error }, 'Reading the connection settings of knex for LISTEN failed');
          return undefined;
        }));
      if (connection === undefined) {
        logger.warn({}, 'No connection settings for LISTEN (pass listenConnection); relying on polling');
      } else {
        this.#listener = new NotificationListener({
          connection,
          channel: tables.channel,
          logger,
          onNotify: (shards) => this.#wake(shards),
          onError: (error) => this.events.emit('relay:error', { error, during: 'listen' }),
        });
        await this.#listener.start();
      }
    }
    this.#lanes = Array.from({ length: this.options.concurrency }, (_, i) => this.#newLane(i));
    await this.#runTick();
    this.#scheduleTick();
    if (this.options.retentionMs > 0) this.#schedulePrune();
    logger.info({ shards: this.#leases.all().map((l) => l.shard) }, 'Relay started');
  }

  /**
   * Stops: in-flight batches finish (a broker backoff is cut short, its rows stay pending),
   * leases are released so other relays take over at once, the relay leaves `relays`, the
   * LISTEN connection closes and the publisher disconnects.
   */
  stop(): Promise<void> {
    if (this.#state === 'new') {
      this.#state = 'stopped';
      return Promise.resolve();
    }
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const { knex, tables, relayId, logger, publisher } = this.options;
    this.#state = 'stopping';
    this.#abort.abort(new Error('Relay stopping'));
    clearTimeout(this.#tickTimer);
    clearTimeout(this.#pruneTimer);
    for (const lane of this.#lanes) lane.wake();
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      Promise.allSettled([this.#tickRunning, this.#pruneRunning, ...this.#lanes.map((lane) => lane.done)]).then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), this.options.stopTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!settled)
      logger.warn({ stopTimeoutMs: this.options.stopTimeoutMs }, 'In-flight batches did not finish in time; releasing leases anyway');
    const held = this.#leases.all();
    try {
      await releaseShards(knex, tables, relayId, held);
      await unregister(knex, tables, relayId);
    } catch (error) {
      // The leases then simply expire; nothing is lost.
      this.events.emit('relay:error', { error, during: 'stop' });
      logger.warn({ error }, 'Could not release leases on stop; they will expire');
    }
    for (const lease of held) {
      this.#leases.drop(lease.shard);
      this.events.emit('relay:lease:lost', { shard: lease.shard, fencingToken: lease.token, reason: 'released' });
    }
    await this.#listener?.stop();
    await publisher.disconnect().catch((error: unknown) => this.events.emit('relay:error', { error, during: 'stop' }));
    this.#state = 'stopped';
    logger.info({ ...this.#counters }, 'Relay stopped');
  }

  /** Counters since start, the shards held now and the backlog seen at the last lease tick. */
  stats(): RelayStats {
    return {
      ...this.#counters,
      activeLanes: this.#layout.active,
      shards: this.#leases
        .all()
        .map((l) => l.shard)
        .sort((a, b) => a - b),
      ...this.#backlog,
    };
  }

  /** Where the relay is in its life: `new`, `running`, `stopping` or `stopped`. */
  get state(): RelayState {
    return this.#state;
  }

  /** When the lease loop last ran and last succeeded (epoch ms), for liveness and readiness. */
  leaseTicks(): { readonly attemptedAt: number | null; readonly succeededAt: number | null } {
    return { ...this.#ticks };
  }

  #isStopping(): boolean {
    return this.#state !== 'running';
  }

  #wake(shards: readonly number[] | null): void {
    for (const lane of this.#lanes) if (shards === null || shards.some((s) => lane.serves(s))) lane.wake();
  }

  #scheduleTick(): void {
    if (this.#isStopping()) return;
    this.#tickTimer = setTimeout(
      async () => {
        await this.#runTick();
        this.#scheduleTick();
      },
      Math.floor(this.options.leaseMs / 3),
    );
  }

  async #runTick(): Promise<void> {
    this.#ticks.attemptedAt = Date.now();
    this.#tickRunning = this.#tick().then(
      () => {
        this.#ticks.succeededAt = Date.now();
      },
      (error: unknown) => {
        this.events.emit('relay:error', { error, during: 'lease tick' });
        this.options.logger.error({ error }, 'Lease tick failed; held leases stay valid until they expire');
      },
    );
    await this.#tickRunning;
  }

  /**
   * Heartbeat, renew, then move towards this relay's share of shards: hand over the excess
   * (each once its current batch is done) or claim free and expired leases.
   */
  async #tick(): Promise<void> {
    const { knex, tables, relayId, leaseMs, logger } = this.options;
    const live = await heartbeat(knex, tables, relayId, leaseMs);

    const sentAt = performance.now();
    const held = this.#leases.all();
    const renewed = new Set(await renewShards(knex, tables, relayId, held, leaseMs));
    for (const lease of held) {
      if (renewed.has(lease.shard)) this.#leases.hold(lease, sentAt);
      else this.#leaseLost(lease.shard, lease.token);
    }
    if (this.#isStopping()) return;

    const active = this.#leases.all().filter((l) => !l.draining);
    const plan = leasePlan(active.length, shardShare(SHARD_COUNT, live));
    if (plan.release > 0) {
      for (const lease of active.slice(-plan.release)) {
        lease.draining = true;
        this.#wake([lease.shard]);
        logger.info({ shard: lease.shard, liveRelays: live }, 'Handing shard over to balance relays');
      }
    }
    const claimed = plan.release === 0 && plan.claim > 0 ? await this.#claimLeases(plan.claim) : [];
    // Before new shards are worked on, so their first claims already know whether to probe.
    await this.#checkHeldKeys();
    this.#wake(claimed);
    this.#backlog = await selectShardBacklog(
      knex,
      tables,
      this.#leases.all().map((l) => l.shard),
    );
  }

  /** Claims up to `count` free or expired shard leases; answers the shards gained. */
  async #claimLeases(count: number): Promise<number[]> {
    const { knex, tables, relayId, leaseMs, logger } = this.options;
    const claimedAt = performance.now();
    const claimed = await claimShards(knex, tables, relayId, count, leaseMs);
    for (const lease of claimed) {
      this.#leases.hold(lease, claimedAt);
      this.events.emit('relay:lease:gained', { shard: lease.shard, fencingToken: lease.token });
      logger.debug({ shard: lease.shard, fencingToken: lease.token }, 'Shard lease gained');
    }
    return claimed.map((l) => l.shard);
  }

  /**
   * Clears `mayHoldKeys` of held shards found to have no holding row, so their claims skip
   * that probe. A shard whose failures were recorded while the check ran keeps it.
   */
  async #checkHeldKeys(): Promise<void> {
    const suspects = this.#leases.all().filter((l) => l.mayHoldKeys);
    if (suspects.length === 0) return;
    const versions = suspects.map((l) => l.holdsVersion);
    const holding = await shardsHoldingKeys(
      this.options.knex,
      this.options.tables,
      suspects.map((l) => l.shard),
    );
    suspects.forEach((lease, i) => {
      if (!holding.has(lease.shard) && lease.holdsVersion === versions[i] && this.#leases.get(lease.shard) === lease) {
        lease.mayHoldKeys = false;
      }
    });
  }

  #newLane(index: number): Lane {
    return new Lane(
      {
        options: this.options,
        leases: this.#leases,
        layout: this.#layout,
        events: this.events,
        counters: this.#counters,
        topicLimits: this.#topicLimits,
        signal: this.#abort.signal,
        isStopping: () => this.#isStopping(),
        leaseLost: (s, token) => this.#leaseLost(s, token),
        release: (s) => this.#release(s),
      },
      index,
    );
  }

  #leaseLost(shard: number, token: string): void {
    const lease = this.#leases.get(shard);
    if (lease === undefined || lease.token !== token) return;
    this.#leases.drop(shard);
    this.events.emit('relay:lease:lost', { shard, fencingToken: token, reason: 'taken' });
    this.options.logger.warn({ shard, fencingToken: token }, 'Shard lease lost to another relay');
  }

  async #release(shard: number): Promise<void> {
    const lease = this.#leases.drop(shard);
    if (lease === undefined) return;
    try {
      await releaseShards(this.options.knex, this.options.tables, this.options.relayId, [lease]);
    } catch (error) {
      this.events.emit('relay:error', { error, during: `release shard ${shard}` });
    }
    this.events.emit('relay:lease:lost', { shard, fencingToken: lease.token, reason: 'released' });
    this.options.logger.info({ shard }, 'Shard handed over');
  }

  #schedulePrune(): void {
    if (this.#isStopping()) return;
    this.#pruneTimer = setTimeout(async () => {
      this.#pruneRunning = this.#prune();
      await this.#pruneRunning;
      this.#schedulePrune();
    }, this.options.pruneIntervalMs);
  }

  async #prune(): Promise<void> {
    const { knex, tables, retentionMs, pruneBatchSize, logger } = this.options;
    let total = 0;
    try {
      for (;;) {
        if (this.#isStopping()) break;
        const deleted = await pruneBatch(knex, tables, retentionMs, pruneBatchSize);
        total += deleted;
        if (deleted < pruneBatchSize) break;
      }
      if (total > 0) logger.info({ deleted: total, retentionMs }, 'Pruned published outbox rows');
    } catch (error) {
      this.events.emit('relay:error', { error, during: 'prune' });
      logger.error({ error }, 'Pruning the outbox failed; trying again next interval');
    }
  }
}
