import { ErrorCodes, OnceflowError } from '@onceflow/core';

/** A dead outbox message asked for by id does not exist (or is not dead). */
export class DeadMessageError extends OnceflowError {
  /** The message id asked for. */
  readonly messageId: string;

  constructor(messageId: string, problem: string) {
    super(ErrorCodes.notFound, `Dead message ${messageId}: ${problem}`);
    this.messageId = messageId;
  }
}

/**
 * The broker as a whole was unavailable while a batch was sent (`cause`: the transport's
 * failure). No message is to blame: the batch stays pending, no attempt is charged, and the
 * lane tries again after the broker backoff.
 */
export class BrokerUnavailableError extends OnceflowError {
  constructor(cause: unknown) {
    super(ErrorCodes.publish, `Broker unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause, retriable: true });
  }
}
