import { dialectOf, tablesForDialect } from '@onceflow/core';
import type { Knex } from 'knex';
import { chaosSqlFor } from './chaos-sql.ts';

/** What the invariant checker counted. Every field but the first four must be 0 for a pass. */
export interface CheckResult {
  /** Committed messages (business rows), poison included. */
  messages: number;
  /** Messages in rolled-back transactions (never committed). */
  rolledBack: number;
  /** Planted poison messages among `messages`. */
  poison: number;
  /** Effect rows in the ledger. */
  effects: number;
  /** Dead letters recorded for the poison messages (one or more each). */
  deadLetters: number;
  /** Committed, non-poison messages with no effect. */
  lost: number;
  /** Effects beyond the first for one message. */
  double: number;
  /** Effects that broke their key's chain: applied after a later message of the key, or before an earlier one. */
  reordered: number;
  /** Effects of messages that never committed (rolled back or unknown). */
  phantom: number;
  /** Effects of poison messages (their handler always throws). */
  poisonApplied: number;
  /** Poison messages without a dead letter. */
  poisonMissing: number;
  /** Dead letters of messages that are not poison. */
  unexpectedDeadLetters: number;
  /** Outbox rows not published after the drain. */
  pending: number;
  /** Outbox rows the relay parked as dead. */
  outboxDead: number;
  /** Inbox rows left `processing`. */
  inboxProcessing: number;
  /** Keys whose balance row disagrees with their ledger rows. */
  balanceMismatch: number;
}

/** The fields of {@link CheckResult} that must be zero. */
export const mustBeZero = [
  'lost',
  'double',
  'reordered',
  'phantom',
  'poisonApplied',
  'poisonMissing',
  'unexpectedDeadLetters',
  'pending',
  'outboxDead',
  'inboxProcessing',
  'balanceMismatch',
] as const satisfies readonly (keyof CheckResult)[];

/** Names of the invariants `result` breaks (empty when it passes). */
export function failures(result: CheckResult): string[] {
  return mustBeZero.filter((k) => result[k] !== 0).map((k) => `${k}=${result[k]}`);
}

/**
 * Counts every invariant of the chaos suite over the run's tables (see tables.ts) and Onceflow's
 * outbox, inbox and dead letters in `schema` (on MySQL the database holding them). `consumerName`
 * is the inbox consumer the handlers ran under. The queries are the same on PostgreSQL and
 * MySQL but for the dead letters' idempotency key (see chaos-sql.ts).
 */
export async function checkInvariants(knex: Knex, consumerName: string, schema = 'onceflow'): Promise<CheckResult> {
  const t = tablesForDialect(dialectOf(knex), schema);
  const sql = chaosSqlFor(knex);
  const one = (query: string, bindings: readonly unknown[] = []) => sql.count(knex, query, bindings);
  // A dead letter names its message by dedup key (the idempotency key by default), else by header.
  const deadIk = sql.deadLetterIk;
  return {
    messages: await one('select count(*) from chaos_sent'),
    rolledBack: await one('select count(*) from chaos_rolled_back'),
    poison: await one('select count(*) from chaos_sent where poison'),
    effects: await one('select count(*) from chaos_ledger'),
    deadLetters: await one(`select count(*) from ${t.deadLetters} d where d.consumer = ?`, [consumerName]),
    lost: await one('select count(*) from chaos_sent s where not s.poison and not exists (select 1 from chaos_ledger l where l.ik = s.ik)'),
    double: await one('select coalesce(sum(n - 1), 0) from (select count(*) as n from chaos_ledger group by ik) c'),
    // Each key's effects form a chain through chaos_balance: prev_seq is the sequence applied
    // just before. Sorted by sequence (first effect of each message only, so doubles are not
    // counted twice), every link must point at the previous element; gaps (poison, lost) are
    // allowed, an effect applied out of commit order breaks a link. (Window functions, not
    // PostgreSQL's `distinct on`, and lag() without a default, which MariaDB does not take:
    // the same on both servers.)
    reordered: await one(
      `select count(*) from (
         select prev_seq, coalesce(lag(key_seq) over (partition by topic, msg_key order by key_seq), 0) as expected
         from (
           select topic, msg_key, key_seq, prev_seq, row_number() over (partition by ik order by id) as nth from chaos_ledger
         ) effects where nth = 1
       ) c where prev_seq <> expected`,
    ),
    phantom: await one('select count(*) from chaos_ledger l where not exists (select 1 from chaos_sent s where s.ik = l.ik)'),
    poisonApplied: await one('select count(*) from chaos_ledger l join chaos_sent s on s.ik = l.ik where s.poison'),
    poisonMissing: await one(
      `select count(*) from chaos_sent s where s.poison
       and not exists (select 1 from ${t.deadLetters} d where d.consumer = ? and ${deadIk} = s.ik)`,
      [consumerName],
    ),
    unexpectedDeadLetters: await one(
      `select count(*) from ${t.deadLetters} d where d.consumer = ?
       and not exists (select 1 from chaos_sent s where s.poison and s.ik = ${deadIk})`,
      [consumerName],
    ),
    pending: await one(`select count(*) from ${t.outbox} where status = 'pending'`),
    outboxDead: await one(`select count(*) from ${t.outbox} where status = 'dead'`),
    inboxProcessing: await one(`select count(*) from ${t.inbox} where status = 'processing'`),
    balanceMismatch: await one(
      `select count(*) from chaos_balance b
       left join (select topic, msg_key, count(*) as n from chaos_ledger group by topic, msg_key) l
         on l.topic = b.topic and l.msg_key = b.msg_key
       where b.applied <> coalesce(l.n, 0)`,
    ),
  };
}
