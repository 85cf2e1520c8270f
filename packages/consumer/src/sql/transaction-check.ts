import { ErrorCodes, OnceflowError } from '@onceflow/core';
import type { Knex } from 'knex';

/** Nothing to mark on PostgreSQL: an aborted transaction refuses every later statement. */
export async function markTransaction(_trx: Knex.Transaction): Promise<void> {}

/**
 * Nothing between two handlers on PostgreSQL: a transaction aborted under one handler refuses
 * every statement of the next, so nothing it writes can commit; the check after the last one
 * reports it.
 */
export async function betweenHandlers(_trx: Knex.Transaction): Promise<void> {}

/**
 * Fails when a statement of the transaction failed and the handler went on (caught the error):
 * PostgreSQL then answers COMMIT with a rollback and no error, and knex resolves as if the
 * transaction had committed, so without this check the message would count as handled while
 * its effect and its inbox row were rolled back. One cheap statement per transaction: in an
 * aborted transaction it fails with 25P02.
 */
export async function assertNotAborted(trx: Knex.Transaction): Promise<void> {
  try {
    await trx.raw('select 1');
  } catch (error) {
    if ((error as { code?: unknown }).code !== '25P02') throw error;
    throw new OnceflowError(
      ErrorCodes.handler,
      'A statement in the handler failed and the handler went on: PostgreSQL aborted the transaction, so none of it can commit (25P02). Let the error propagate, or run a statement that may fail in a savepoint (await trx.transaction(...)).',
      { cause: error, retriable: true },
    );
  }
}
