import { ErrorCodes, OnceflowError } from '@onceflow/core';

/** No dedup key could be derived from a message; it is dead-lettered, not retried. */
export class DedupKeyError extends OnceflowError {
  /** `topic/partition@offset` of the message. */
  readonly record: string;

  constructor(record: string, problem: string, options: { cause?: unknown } = {}) {
    super(ErrorCodes.dedupKey, `Cannot derive a dedup key for ${record}: ${problem}`, { ...options, retriable: false });
    this.record = record;
  }
}

/** A side-effect lease store failed; Onceflow fails closed and does not run the handler. */
export class LeaseStoreError extends OnceflowError {
  constructor(operation: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(ErrorCodes.store, `Lease store ${operation} failed (${reason}); the handler was not run and the message will be retried`, {
      cause,
      retriable: true,
    });
  }
}

/** A dead letter asked for does not exist or cannot be replayed. */
export class DeadLetterError extends OnceflowError {
  /** The dead letter's id. */
  readonly deadLetterId: string;

  constructor(deadLetterId: string, problem: string) {
    super(ErrorCodes.notFound, `Dead letter ${deadLetterId}: ${problem}`);
    this.deadLetterId = deadLetterId;
  }
}

/**
 * The inbox insert met a lock conflict on MySQL (a deadlock, 1213, or a lock wait timeout,
 * 1205) before any handler ran: another transaction holds the rows this one must insert or
 * check, most often a second copy of the same message. No handler ran and nothing was written;
 * the consumer waits and tries again without spending an attempt, as PostgreSQL's insert would
 * simply have waited on the other copy. Not exported: the consumer handles it itself.
 */
export class InboxRowWait extends OnceflowError {
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(ErrorCodes.transaction, `The inbox rows are locked by another transaction (${reason}); waiting for it`, {
      cause,
      retriable: true,
    });
  }
}
