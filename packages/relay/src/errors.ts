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
