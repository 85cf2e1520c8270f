import { ErrorCodes, mysqlErrno, OnceflowError } from '@onceflow/core';
import type { Knex } from 'knex';
import { ER_SP_DOES_NOT_EXIST } from './errors.ts';

/** The savepoint that marks an inbox transaction as still open; see {@link assertNotAborted}. */
const SAVEPOINT = 'onceflow_inbox';

/** Sets the savepoint {@link assertNotAborted} looks for; call it inside the inbox transaction, before the handler. */
export async function markTransaction(trx: Knex.Transaction): Promise<void> {
  await trx.raw(`savepoint ${SAVEPOINT}`);
}

/**
 * Checks, between two handlers of one transaction, that InnoDB did not roll it back under the
 * first, and marks it again for the next. Without it the next handlers of the group would run
 * on a connection that commits each statement on its own, and their effects would stay while
 * their messages are retried.
 */
export async function betweenHandlers(trx: Knex.Transaction): Promise<void> {
  await assertNotAborted(trx);
  await markTransaction(trx);
}

/**
 * Fails when InnoDB rolled the inbox transaction back while the handler ran, and the handler
 * went on (caught the error). A deadlock (1213) rolls back the whole transaction, not just
 * the statement; the connection then runs every later statement on its own (autocommit), and
 * knex's COMMIT succeeds with nothing to commit. Without this check the message would count
 * as handled, and its offset commit, while its inbox row was rolled back.
 *
 * A rollback removes every savepoint, so releasing the one {@link markTransaction} set fails
 * with 1305 exactly then. Savepoints rather than `@@in_transaction`: MariaDB has that
 * variable, MySQL 8 does not; savepoints work alike on both. Savepoints a handler sets itself
 * (knex's nested transactions) come after this one and leave it in place.
 *
 * Unlike PostgreSQL, which refuses every statement of an aborted transaction, MySQL has
 * already committed what the handler wrote after the rollback: the error says so.
 */
export async function assertNotAborted(trx: Knex.Transaction): Promise<void> {
  try {
    await trx.raw(`release savepoint ${SAVEPOINT}`);
  } catch (error) {
    if (mysqlErrno(error) !== ER_SP_DOES_NOT_EXIST) throw error;
    throw new OnceflowError(
      ErrorCodes.handler,
      'A statement in the handler failed and the handler went on: InnoDB rolled the whole transaction back (a deadlock, 1213), so the inbox row and the effects written before it are gone, and statements run after it were committed on their own. Let the error propagate: the message is then retried in a new transaction.',
      { cause: error, retriable: true },
    );
  }
}
