import { createHash } from 'node:crypto';
import type { Tables } from '@onceflow/core';
import type { LeaseChange } from '../sql/update-lease.ts';
import { isDuplicateKey } from './errors.ts';
import type { MysqlDb } from './results.ts';
import { keyBytes, mysqlOk, mysqlRows } from './results.ts';

/** The width of `inbox.dedup_key` on MySQL: VARBINARY(1024). */
const DEDUP_KEY_BYTES = 1024;

/**
 * The `dedup_key` bytes of a lease store key. A store key carries the topic before the dedup
 * key (`scopedStoreKey`), so a dedup key at the consumer's 1,024-byte limit makes it longer
 * than the column; such a key is stored as '#sha256:' and the base64url SHA-256 of its bytes
 * (51 bytes), so every message still has exactly one record. Shorter keys stay readable.
 */
function leaseKey(storeKey: string): Buffer {
  const bytes = keyBytes(storeKey);
  if (bytes.length <= DEDUP_KEY_BYTES) return bytes;
  return Buffer.from(`#sha256:${createHash('sha256').update(bytes).digest('base64url')}`, 'utf8');
}

/**
 * Creates the side-effect record of (consumer, dedup_key) in scope '' with a lease and fencing
 * token 1; false when the record exists (duplicate key, by errno), which
 * {@link takeOverLease} then looks at. A plain INSERT, not `INSERT IGNORE`, so any other
 * error still surfaces.
 */
export async function insertLease(db: MysqlDb, tables: Tables, consumer: string, dedupKey: string, leaseMs: number): Promise<boolean> {
  try {
    await db.raw(
      `insert into ${tables.inbox} (consumer, scope, dedup_key, status, fencing_token, lease_until)
       values (?, '', ?, 'processing', 1, utc_timestamp(6) + interval ? microsecond)`,
      [keyBytes(consumer), leaseKey(dedupKey), Math.round(leaseMs * 1000)],
    );
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}

/**
 * Takes over an existing `processing` record whose lease ran out (or was released), raising
 * its fencing token by one; returns the new token, or null for a `done` record or a live
 * lease. The UPDATE locks the row, so two takers serialize and the second finds the lease
 * live. The token it wrote comes back in the OK packet through LAST_INSERT_ID(expr) (MySQL
 * and MariaDB alike), so no later read can see another holder's token instead.
 */
export async function takeOverLease(
  db: MysqlDb,
  tables: Tables,
  consumer: string,
  dedupKey: string,
  leaseMs: number,
): Promise<number | null> {
  const ok = mysqlOk(
    await db.raw(
      `update ${tables.inbox}
       set fencing_token = last_insert_id(fencing_token + 1), lease_until = utc_timestamp(6) + interval ? microsecond,
           processed_at = utc_timestamp(6)
       where consumer = ? and scope = '' and dedup_key = ? and status = 'processing' and lease_until <= utc_timestamp(6)`,
      [Math.round(leaseMs * 1000), keyBytes(consumer), leaseKey(dedupKey)],
    ),
  );
  return ok.affectedRows === 1 ? ok.insertId : null;
}

/** The state of a record that {@link acquireLease} did not take. */
export async function leaseState(
  db: MysqlDb,
  tables: Tables,
  consumer: string,
  dedupKey: string,
): Promise<{ status: string; remaining_ms: number } | undefined> {
  const result = await db.raw(
    `select status, greatest(0, timestampdiff(microsecond, utc_timestamp(6), lease_until)) / 1000 as remaining_ms
     from ${tables.inbox} where consumer = ? and scope = '' and dedup_key = ?`,
    [keyBytes(consumer), leaseKey(dedupKey)],
  );
  return mysqlRows<{ status: string; remaining_ms: string | number | null }>(result).map((r) => ({
    status: r.status,
    remaining_ms: Number(r.remaining_ms ?? 0),
  }))[0];
}

const SET: Record<LeaseChange, string> = {
  complete: `status = 'done', lease_until = null, processed_at = utc_timestamp(6)`,
  // DATETIME's first day stands for PostgreSQL's '-infinity'; the row stays, so the fencing
  // token keeps growing.
  release: `lease_until = '1000-01-01 00:00:00'`,
  extend: 'lease_until = utc_timestamp(6) + interval ? microsecond',
};

/**
 * Completes, releases or extends a lease, only while `fencingToken` is still the record's
 * token. Returns whether the row matched (the condition makes matched and changed the same).
 */
export async function updateLease(
  db: MysqlDb,
  tables: Tables,
  change: LeaseChange,
  consumer: string,
  dedupKey: string,
  fencingToken: number,
  leaseMs = 0,
): Promise<boolean> {
  const keys = [keyBytes(consumer), leaseKey(dedupKey), fencingToken];
  const result = await db.raw(
    `update ${tables.inbox} set ${SET[change]}
     where consumer = ? and scope = '' and dedup_key = ? and status = 'processing' and fencing_token = ?`,
    change === 'extend' ? [Math.round(leaseMs * 1000), ...keys] : keys,
  );
  return mysqlOk(result).affectedRows === 1;
}

/** Whether the unscoped record (consumer, dedup_key) is `done`. */
export async function selectDone(db: MysqlDb, tables: Tables, consumer: string, dedupKey: string): Promise<boolean> {
  const result = await db.raw(
    `select 1 as x from ${tables.inbox} where consumer = ? and scope = '' and dedup_key = ? and status = 'done'`,
    [keyBytes(consumer), leaseKey(dedupKey)],
  );
  return mysqlRows(result).length > 0;
}
