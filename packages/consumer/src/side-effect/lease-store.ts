/** The answer of {@link LeaseStore.acquire}. */
export type LeaseAcquisition =
  /** This caller now holds the lease; pass `fencingToken` along with the effect. */
  | { readonly state: 'acquired'; readonly fencingToken: number }
  /** The effect was completed before: skip. */
  | { readonly state: 'done' }
  /** Another holder has a live lease: try again later, never beside it. */
  | { readonly state: 'busy'; readonly retryInMs: number };

/**
 * Where side-effect mode keeps `processing` (lease + fencing token) and `done` records. Every
 * acquisition of a record raises its fencing token, so a holder whose lease expired and was
 * taken over can no longer complete, release or extend it. Implementations throw on store
 * errors; callers then fail closed (the handler does not run).
 */
export interface LeaseStore {
  /** Takes the lease of (consumer, dedupKey) for `leaseMs` unless it is done or held. */
  acquire(consumer: string, dedupKey: string, leaseMs: number): Promise<LeaseAcquisition>;
  /** Marks the record done; false when `fencingToken` is no longer the current one. */
  complete(consumer: string, dedupKey: string, fencingToken: number): Promise<boolean>;
  /** Gives the lease up after a failure so a retry can take it at once; false when fenced. */
  release(consumer: string, dedupKey: string, fencingToken: number): Promise<boolean>;
  /** Extends a held lease by `leaseMs` from now; false when fenced. */
  extend(consumer: string, dedupKey: string, fencingToken: number, leaseMs: number): Promise<boolean>;
  /**
   * Whether the record (consumer, dedupKey) is done. Side-effect mode asks it for a message's
   * dedup key without its topic when it first takes a topic-scoped record, so records written
   * before dedup included the topic still count. Stores without it: such records do not.
   */
  isDone?(consumer: string, dedupKey: string): Promise<boolean>;
}
