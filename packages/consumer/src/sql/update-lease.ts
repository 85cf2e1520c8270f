import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/** What to do with a held lease. */
export type LeaseChange = 'complete' | 'release' | 'extend';

const SET: Record<LeaseChange, string> = {
  complete: `status = 'done', lease_until = null, processed_at = clock_timestamp()`,
  // '-infinity' rather than deleting the row: the fencing token must keep growing, or a
  // fenced-off holder could match a later holder's restarted token.
  release: `lease_until = '-infinity'`,
  extend: `lease_until = clock_timestamp() + ?::double precision * interval '1 millisecond'`,
};

/**
 * Completes, releases or extends a lease, only while `fencingToken` is still the record's
 * token: a holder that was taken over changes nothing. Returns whether the row changed.
 */
export async function updateLease(
  knex: Knex,
  tables: Tables,
  change: LeaseChange,
  consumer: string,
  dedupKey: string,
  fencingToken: number,
  leaseMs = 0,
): Promise<boolean> {
  const bindings = change === 'extend' ? [leaseMs, consumer, dedupKey, fencingToken] : [consumer, dedupKey, fencingToken];
  const result = await knex.raw(
    `update ${tables.inbox} set ${SET[change]}
     where consumer = ? and scope = '' and dedup_key = ? and status = 'processing' and fencing_token = ?`,
    bindings,
  );
  return (result.rowCount ?? 0) === 1;
}
