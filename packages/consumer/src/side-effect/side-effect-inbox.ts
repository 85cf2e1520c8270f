import type { Logger } from '@onceflow/core';
import { intOption, OptionError, requiredOption, silentLogger, withProcessSpan } from '@onceflow/core';
import type { ConsumedMessage } from '../consumed-message.ts';
import type { DedupMode, DedupScope } from '../dedup.ts';
import { dedupKeyOf, dedupScopeOf, scopedStoreKey } from '../dedup.ts';
import { resolveDedup, resolveDedupScope } from '../inbox-options.ts';
import type { LeaseStore } from './lease-store.ts';

/** The lease a side-effect handler holds while it runs. */
export interface Lease {
  readonly dedupKey: string;
  /** Grows with every acquisition: hand it to the external system so it can refuse stale writers. */
  readonly fencingToken: number;
  /** Extends the lease by `leaseMs` (default: the configured lease) from now; false once taken over. */
  extend(leaseMs?: number): Promise<boolean>;
}

/** A handler whose effect is outside the database (an HTTP call, an e-mail). */
export type EffectHandler<Payload = unknown> = (message: ConsumedMessage<Payload>, lease: Lease) => Promise<void>;

/**
 * What happened: `handled` (effect done and recorded), `duplicate` (recorded before), `busy`
 * (another holder has a live lease: try later), `fenced` (the handler ran, but its lease had
 * been taken over, so its `done` was refused; the new holder owns the record).
 */
export type EffectOutcome = 'handled' | 'duplicate' | 'busy' | 'fenced';

/** Options of {@link SideEffectInbox}. `store` and `consumerName` are required. */
export interface SideEffectInboxOptions {
  /** Where leases and done marks live: {@link PostgresLeaseStore} or {@link RedisLeaseStore}. */
  store?: LeaseStore;
  /** The consumer's name in the store; dedup is per (consumerName, dedup key). */
  consumerName?: string;
  /** How the dedup key is derived. @defaultValue 'idempotencyKey' */
  dedup?: DedupMode;
  /** Where a dedup key must be unique; see {@link InboxOptions.dedupScope}. @defaultValue 'topic' */
  dedupScope?: DedupScope;
  /** How long a lease lasts unless extended; after that another consumer may take over. @defaultValue 60000 */
  leaseMs?: number;
  /** Logger. @defaultValue a silent logger */
  logger?: Logger;
}

/** {@link SideEffectInboxOptions} validated. */
export interface ResolvedSideEffectInboxOptions {
  readonly store: LeaseStore;
  readonly consumerName: string;
  readonly dedup: DedupMode;
  readonly dedupScope: DedupScope;
  readonly leaseMs: number;
  readonly logger: Logger;
}

/** Validates {@link SideEffectInboxOptions}; throws OptionError naming the first bad one. */
export function resolveSideEffectInboxOptions(options: SideEffectInboxOptions): ResolvedSideEffectInboxOptions {
  const store = requiredOption('store', options.store, 'a LeaseStore (PostgresLeaseStore or RedisLeaseStore)');
  if (typeof store.acquire !== 'function') throw new OptionError('store', store, 'a LeaseStore');
  const consumerName = requiredOption('consumerName', options.consumerName, 'a non-empty string');
  if (typeof consumerName !== 'string' || consumerName.length === 0)
    throw new OptionError('consumerName', consumerName, 'a non-empty string');
  return {
    store,
    consumerName,
    dedup: resolveDedup(options.dedup),
    dedupScope: resolveDedupScope(options.dedupScope),
    leaseMs: intOption('leaseMs', options.leaseMs, 60_000, 1),
    logger: options.logger ?? silentLogger,
  };
}

/**
 * Side-effect mode: a record goes `processing` (lease + fencing token) → `done`, or is
 * released when the handler fails so a retry can run. A copy meeting a live lease gets
 * `busy` and never runs beside the holder. Store errors propagate before the handler runs
 * (fail closed).
 */
export class SideEffectInbox {
  /** The validated options. */
  readonly options: ResolvedSideEffectInboxOptions;

  constructor(options: SideEffectInboxOptions) {
    this.options = resolveSideEffectInboxOptions(options);
  }

  /** The dedup key of `message`; throws DedupKeyError when none can be derived. */
  dedupKeyOf(message: ConsumedMessage): string {
    return dedupKeyOf(message, this.options.dedup);
  }

  /** Runs `handler` under a lease unless the effect is done or held elsewhere. */
  async run<Payload = unknown>(
    message: ConsumedMessage<Payload>,
    handler: EffectHandler<Payload>,
    dedupKey?: string,
  ): Promise<EffectOutcome> {
    const { store, consumerName, leaseMs } = this.options;
    const dedup = dedupKey ?? this.dedupKeyOf(message);
    const scope = dedupScopeOf(message, this.options.dedupScope);
    const key = scopedStoreKey(scope, dedup);
    const got = await store.acquire(consumerName, key, leaseMs);
    if (got.state === 'done') return 'duplicate';
    if (got.state === 'busy') return 'busy';
    const token = got.fencingToken;
    // Token 1: the topic-scoped record is new. The message may still have been done before
    // records carried the topic; then mark this record done too, without running the handler.
    if (scope !== '' && token === 1 && store.isDone !== undefined && (await store.isDone(consumerName, dedup))) {
      return (await store.complete(consumerName, key, token)) ? 'duplicate' : 'fenced';
    }
    const lease: Lease = {
      dedupKey: dedup,
      fencingToken: token,
      extend: (ms) => store.extend(consumerName, key, token, ms ?? leaseMs),
    };
    try {
      await withProcessSpan(
        message.topic,
        message.headers,
        { 'messaging.consumer.group.name': consumerName, 'messaging.destination.partition.id': String(message.partition) },
        () => handler(message, lease),
      );
    } catch (error) {
      await store.release(consumerName, key, token).catch((releaseError: unknown) => {
        // The lease then simply runs out before a retry can take it.
        this.options.logger.warn({ error: releaseError, dedupKey: key }, 'Could not release a side-effect lease');
      });
      throw error;
    }
    return (await store.complete(consumerName, key, token)) ? 'handled' : 'fenced';
  }
}
