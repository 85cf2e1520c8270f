import type { Knex } from 'knex';
import type { Fence } from '../sql/fence.ts';
import type { Runner } from './results.ts';
import { mysqlRows } from './results.ts';

/**
 * Inside a transaction, locks for share the lease rows of the shards `fence` still holds (same
 * owner, same token) and answers those shards: the MySQL form of PostgreSQL's `fence` CTE, run
 * as the first statement of the fenced write's transaction. A shared lock makes the fence a real
 * barrier, as `FOR SHARE` does on PostgreSQL: a relay claiming one of the shards (an UPDATE of
 * its row) waits until this transaction ends, and this read waits for a claim in progress and
 * then reads the committed row (a locking read reads the latest version, not the snapshot), so
 * it sees the new token and leaves that shard's rows alone. Once a claim commits, no write of
 * the previous holder can land.
 *
 * The rows are found by primary key (`shard in (...)`), so only the fenced shards' rows are
 * locked. `lock in share mode`: both servers accept it (MySQL 8 also spells it `for share`, which
 * MariaDB does not). MySQL has no per-transaction `synchronous_commit`: these commits wait for
 * the redo log flush as the server's `innodb_flush_log_at_trx_commit` says.
 */
export async function lockFence(trx: Knex.Transaction | Runner, tables: { relayShards: string }, fence: Fence): Promise<number[]> {
  if (fence.shards.length === 0) return [];
  const tuples = fence.shards.map(() => '(?, cast(? as signed))').join(', ');
  const bindings = fence.shards.flatMap((shard, i) => [shard, fence.tokens[i] ?? '0']);
  const rows = mysqlRows<{ shard: number }>(
    await trx.raw(
      `select shard from ${tables.relayShards}
       where shard in (${fence.shards.map(() => '?').join(', ')}) and owner = ? and (shard, fencing_token) in (${tuples})
       order by shard
       lock in share mode`,
      [...fence.shards, fence.relayId, ...bindings],
    ),
  );
  return rows.map((r) => Number(r.shard));
}
