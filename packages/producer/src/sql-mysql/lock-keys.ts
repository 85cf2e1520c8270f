import type { MysqlTables } from '@onceflow/core';
import type { Knex } from 'knex';

/**
 * Locks the `key_locks` rows of `sortedLockIds` (ascending, distinct) until `trx` ends, creating
 * those that do not exist yet; one statement. The MySQL stand-in for PostgreSQL's
 * `pg_advisory_xact_lock`, taken before the outbox insert so that for one key the outbox `seq`
 * order is the producers' commit order, also when their transactions overlap.
 *
 * Why not GET_LOCK: it belongs to the session, not the transaction. It survives COMMIT and
 * ROLLBACK, so on a pooled connection a lock forgotten by an error path stays held by whatever
 * runs on that connection next, and releasing it after the commit leaves a window in which
 * another producer's insert can come first.
 *
 * Why a row lock works, under InnoDB's rules:
 * - `INSERT ... ON DUPLICATE KEY UPDATE` takes an exclusive lock on the row it finds (documented;
 *   a plain INSERT would take a shared lock, and shared locks held by two waiters deadlock when
 *   both upgrade). The lock is taken whether or not the update changes anything, so
 *   `lock_id = lock_id` writes nothing and still locks. It is held until COMMIT or ROLLBACK:
 *   InnoDB releases row locks only at the end of the transaction.
 * - A second transaction for the same key blocks on that lock: on the existing row, or, when the
 *   first transaction has just inserted the row, on the duplicate it meets (InnoDB turns the
 *   inserter's implicit lock into an explicit one and queues the second behind it). If the first
 *   rolls back, its row vanishes and the second inserts its own; either way it proceeds only
 *   after the first has ended.
 * - The statement is a point lookup on the primary key, the same in REPEATABLE READ (the default)
 *   and READ COMMITTED: duplicate-key checks lock in both levels, and no range is scanned.
 *   The next-key lock a duplicate check may take covers the gap below the row, which can make an
 *   insert of a new lock id in that gap wait too; that costs a short wait, never a wrong order.
 * - Deadlocks: every transaction takes its key locks in one statement in ascending `lock_id`
 *   (index) order, and a multi-row INSERT processes its rows in the order written. A waiter
 *   therefore only ever waits for a lock above every lock it holds (the gap a next-key lock
 *   covers lies below its row), so no cycle of waits can form among enqueues. A caller who
 *   enqueues twice in one transaction takes the second set after the first, outside this
 *   order; such transactions can deadlock (1213) with each other, and MySQL then rolls one
 *   back whole, which the caller retries like any deadlock.
 * - Why `seq` then follows commit order per key: `seq` is AUTO_INCREMENT, drawn from one counter
 *   that only grows (in every innodb_autoinc_lock_mode: 1 allocates a statement's values in one
 *   go, 2 interleaves concurrent statements, neither hands out a value below one already taken,
 *   and MySQL 8 and MariaDB 10.2.4+ keep the counter across restarts). A transaction draws its
 *   values for a key while holding the key's lock, and the next transaction for that key draws
 *   only after the first has committed; so for one key, a lower `seq` committed earlier.
 *   (With auto_increment_increment/offset across several primaries, as in multi-primary
 *   Galera, this no longer holds: Onceflow's MySQL support assumes one primary.)
 *
 * A transaction that holds a key lock makes the next producer of that key wait up to
 * innodb_lock_wait_timeout (50 s by default), then fail with 1205, which rolls back the
 * statement only (unless innodb_rollback_on_timeout): roll the transaction back and retry.
 * The table keeps one small row per lock id ever used; two keys whose 64-bit ids collide only
 * wait for each other.
 */
export async function lockKeys(trx: Knex.Transaction, tables: MysqlTables, sortedLockIds: readonly string[]): Promise<void> {
  if (sortedLockIds.length === 0) return;
  await trx.raw(
    `insert into ${tables.keyLocks} (lock_id) values ${sortedLockIds.map(() => '(?)').join(', ')}
     on duplicate key update lock_id = lock_id`,
    [...sortedLockIds],
  );
}
