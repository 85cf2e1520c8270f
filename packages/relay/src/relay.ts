import {
  assertPeerVersion,
  checkReplication,
  checkSchemaVersion,
  knexConnectionSettings,
  onMysqlCommit,
  sleep,
  TypedEmitter,
} from '@onceflow/core';
import type { RelayEvents, RelayStats } from './events.ts';
import type { LaneClock } from './lane.ts';
import { Lane } from './lane.ts';
import { LaneLayout } from './lane-layout.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import { LeaseTable } from './leases.ts';
import { NotificationListener } from './listener.ts';
import type { RelayOptions, ResolvedRelayOptions } from './options.ts';
import { resolveRelayOptions } from './options.ts';
import type { OutboxStore } from './outbox-store.ts';
import { sqlOutboxStore } from './outbox-store.ts';
import { AdaptivePolling } from './poll-pacing.ts';
import type { Counters } from './record-outcome.ts';
import type { RelayRetryPolicies } from './relay-retry.ts';
import { relayRetryPolicies } from './relay-retry.ts';
import type { RelaySql } from './relay-sql.ts';
import { relaySqlFor } from './relay-sql.ts';
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
  readonly #keeper: LeaseKeeper;
  readonly #store: OutboxStore;
  /** The statements of the outbox's database, PostgreSQL or MySQL, chosen once. */
  readonly #sql: RelaySql;
  readonly #retry: RelayRetryPolicies;
  readonly #clock: LaneClock = { now: () => performance.now(), sleep };
  #lanes: Lane[] = [];
  readonly #layout: LaneLayout;
  readonly #topicLimits: TopicLimits;
  readonly #counters: Counters = { published: 0, batches: 0, retried: 0, dead: 0, brokerFailures: 0 };
  readonly #abort = new AbortController();
  #state: RelayState = 'new';
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruneRunning: Promise<void> | undefined;
  #listener: NotificationListener | undefined;
  /** Ends the in-process wake-ups of a MySQL relay. */
  #unsubscribe: (() => void) | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: RelayOptions) {
    assertPeerVersion('knex');
    this.options = resolveRelayOptions(options);
    this.#leases = new LeaseTable(this.options.leaseMs);
    this.#sql = relaySqlFor(this.options.knex);
    this.#keeper = new LeaseKeeper({
      options: this.options,
      sql: this.#sql,
      leases: this.#leases,
      events: this.events,
      isStopping: () => this.#isStopping(),
      wake: (shards) => this.#wake(shards),
    });
    const { knex, tables, relayId, deletePublished, onDead } = this.options;
    this.#store = sqlOutboxStore({ knex, tables, relayId, deletePublished, blockOnDead: onDead === 'block', sql: this.#sql });
    this.#retry = relayRetryPolicies(this.options, this.#clock);
    this.#topicLimits = new TopicLimits(this.options.publisher, this.options.maxRecordBytes, this.options.logger);
    this.#layout = new LaneLayout({
      lanes: this.options.concurrency,
      shrinkAfterMs: SHRINK_AFTER_MS,
      // One lane while caught up wherever something wakes the relay: notifications, or on
      // MySQL the adaptive poll (a lane that found rows reads again within milliseconds).
      adaptive: this.#sql.notifies ? this.options.listen : true,
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
    const topics = await this.#sql.selectOutboxTopics(knex, tables, 1_000);
    await checkReplication(publisher.describeTopics?.bind(publisher), topics, this.options.strictReplication, logger).catch(
      async (error: unknown) => {
        await publisher.disconnect().catch(() => undefined);
        throw error;
      },
    );
    this.#state = 'running';
    if (!this.#sql.notifies) {
      // MySQL: no LISTEN/NOTIFY. Producers of this process wake the relay after their commit;
      // rows of other processes are found by the adaptive poll.
      this.#unsubscribe = onMysqlCommit(tables.schema, (shards) => this.#wake(shards));
    } else if (this.options.listen) {
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
    await this.#keeper.start();
    if (this.options.retentionMs > 0) this.#schedulePrune();
    logger.info({ shards: this.#leases.shards() }, 'Relay started');
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
    // The lanes hear it: a sleep or a broker backoff ends at once.
    this.#abort.abort(new Error('Relay stopping'));
    clearTimeout(this.#pruneTimer);
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      Promise.allSettled([this.#keeper.stop(), this.#pruneRunning, ...this.#lanes.map((lane) => lane.done)]).then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), this.options.stopTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!settled)
      logger.warn({ stopTimeoutMs: this.options.stopTimeoutMs }, 'In-flight batches did not finish in time; releasing leases anyway');
    this.#unsubscribe?.();
    const held = this.#leases.all();
    try {
      await this.#store.release(held);
      await this.#sql.unregister(knex, tables, relayId);
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
      shards: this.#leases.shards().sort((a, b) => a - b),
      ...this.#keeper.backlog,
    };
  }

  /** Where the relay is in its life: `new`, `running`, `stopping` or `stopped`. */
  get state(): RelayState {
    return this.#state;
  }

  /** When the lease loop last ran and last succeeded (epoch ms), for liveness and readiness. */
  leaseTicks(): { readonly attemptedAt: number | null; readonly succeededAt: number | null } {
    return this.#keeper.ticks();
  }

  #isStopping(): boolean {
    return this.#state !== 'running';
  }

  /** Wakes the lanes serving any of `shards`, or every lane for null. */
  #wake(shards: readonly number[] | null): void {
    for (const lane of this.#lanes) if (shards === null || shards.some((s) => lane.serves(s))) lane.wake();
  }

  #newLane(index: number): Lane {
    return new Lane(
      {
        options: this.options,
        store: this.#store,
        leases: this.#leases,
        layout: this.#layout,
        events: this.events,
        counters: this.#counters,
        topicLimits: this.#topicLimits,
        retry: this.#retry,
        clock: this.#clock,
        ...(this.#sql.notifies ? {} : { pacing: new AdaptivePolling(this.options.pollIntervalMs) }),
        signal: this.#abort.signal,
        leaseLost: (shard, token) => this.#keeper.leaseLost(shard, token),
      },
      index,
    );
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
        const deleted = await this.#sql.pruneBatch(knex, tables, retentionMs, pruneBatchSize);
        total += deleted;
        if (deleted < pruneBatchSize) break;
      }
      if (total > 0) logger.info({ deleted: total, retentionMs }, 'Pruned published outbox rows');
      await this.#pruneKeyLocks();
    } catch (error) {
      this.events.emit('relay:error', { error, during: 'prune' });
      logger.error({ error }, 'Pruning the outbox failed; trying again next interval');
    }
  }

  /**
   * MySQL: deletes the producers' key-lock rows no producer holds (see sql-mysql/prune-key-locks.ts
   * for why that is safe), in batches, so `key_locks` does not keep a row for every key ever
   * written. Nothing on PostgreSQL, whose advisory locks leave no rows.
   */
  async #pruneKeyLocks(): Promise<void> {
    const prune = this.#sql.pruneKeyLocks;
    if (prune === undefined) return;
    const { knex, tables, pruneBatchSize } = this.options;
    let after: string | null = null;
    do {
      if (this.#isStopping()) return;
      after = await prune(knex, tables, after, pruneBatchSize);
    } while (after !== null);
  }
}
