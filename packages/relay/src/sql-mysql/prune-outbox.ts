import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import { micros, mysqlAffected, mysqlRows, placeholders, retryLockConflicts } from './results.ts';

/**
 * Deletes at most `limit` published rows published more than `olderThanMs` ago and returns
 * how many; MySQL's version of sql/prune-outbox.ts. Ids are uuid v7 text, whose first twelve
 * hex digits are the creation time in milliseconds (lower-case hex and dashes sort as the
 * times do under the column's ascii_bin collation), so the candidates are a prefix of the
 * `outbox_id` index, walked from the oldest. The bound is computed from the UTC clock without
 * any time zone: milliseconds since 1970 by `timestampdiff`, not `unix_timestamp`, which reads
 * its argument in the session's zone.
 *
 * Two statements instead of PostgreSQL's `delete ... where id in (select ... skip locked)`:
 * MySQL allows no LIMIT in an IN subquery nor a subquery on the table being deleted from. The
 * candidates are read without locks, and the delete locks only those rows, found by unique id
 * (no gap locks, so producers' inserts never wait for a prune), and checks again that each is
 * still published and old enough. Two relays pruning at once meet on the same rows; the
 * second waits for the first's short statement and then finds them gone. Dead and pending
 * rows are never deleted.
 */
export async function pruneBatch(knex: Knex, tables: Tables, olderThanMs: number, limit: number): Promise<number> {
  const cutoff = `utc_timestamp(6) - interval ? microsecond`;
  const ids = mysqlRows<{ id: string }>(
    await knex.raw(
      `select o.id from ${tables.outbox} o,
         (select concat(substr(h, 1, 8), '-', substr(h, 9, 4), '-0000-0000-000000000000') as bound
          from (select lower(lpad(hex(timestampdiff(microsecond, '1970-01-01', ${cutoff}) div 1000), 12, '0')) as h) ms) b
       where o.id < b.bound and o.status = 'published' and o.published_at < ${cutoff}
       order by o.id
       limit ?`,
      [micros(olderThanMs), micros(olderThanMs), limit],
    ),
  ).map((r) => String(r.id));
  if (ids.length === 0) return 0;
  return mysqlAffected(
    await retryLockConflicts(() =>
      knex.raw(
        `delete from ${tables.outbox}
         where id in ${placeholders(ids.length)} and status = 'published' and published_at < ${cutoff}`,
        [...ids, micros(olderThanMs)],
      ),
    ),
  );
}
