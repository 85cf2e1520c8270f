import type { Tables } from '@onceflow/core';
import { prepared } from '@onceflow/core';
import type { Knex } from 'knex';
import type { Fence } from './fence.ts';
import { fenceBindings, fenceCte, relaxedCommitCte } from './fence.ts';

/** The outcome of one failed attempt of one row. */
export interface FailedAttempt {
  id: string;
  /** Entry appended to the row's `errors` history: `{ at, attempt, error, ... }`. */
  entry: Record<string, unknown>;
  /** Delay before the next attempt (ignored when `dead`). */
  delayMs: number;
  /** Park the row: attempts exhausted or the failure is not retriable. */
  dead: boolean;
}

/**
 * Records failed attempts, fenced like every write; answers the shards whose lease held. A
 * retried row waits `delayMs` and holds its key meanwhile (later rows of that key stay back,
 * other keys go on). A dead row holds its key only when `blockOnDead` (onDead 'block').
 */
export async function markFailed(
  knex: Knex,
  tables: Tables,
  fence: Fence,
  failures: readonly FailedAttempt[],
  blockOnDead: boolean,
): Promise<number[]> {
  const result = await prepared(
    knex,
    `with ${relaxedCommitCte}, ${fenceCte(tables)},
     marked as (
       update ${tables.outbox} o
       set attempts = o.attempts + 1,
           errors = o.errors || jsonb_build_array(f.entry),
           status = case when f.dead then 'dead' else 'pending' end,
           dead_at = case when f.dead then now() end,
           holds_key = case when f.dead then ?::boolean else true end,
           available_at = case when f.dead then o.available_at else now() + f.delay_ms * interval '1 millisecond' end
       from unnest(?::uuid[], ?::jsonb[], ?::int[], ?::boolean[]) as f(id, entry, delay_ms, dead)
       where o.id = f.id and o.status = 'pending' and o.shard in (select shard from fence)
       returning 1
     )
     select array(select shard from fence) as held, (select count(*) from marked)::int as marked,
            (select setting from relaxed) as commit_mode`,
    [
      ...fenceBindings(fence),
      blockOnDead,
      failures.map((f) => f.id),
      failures.map((f) => JSON.stringify(f.entry)),
      failures.map((f) => Math.max(0, Math.round(f.delayMs))),
      failures.map((f) => f.dead),
    ],
  );
  return (result.rows[0] as { held: number[] }).held;
}
