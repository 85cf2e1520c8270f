import { tablesFor } from '@onceflow/core';
import type { Knex } from 'knex';

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

async function one(knex: Knex, sql: string, bindings: readonly unknown[] = []): Promise<number> {
  const result = await knex.raw(sql, bindings as Knex.RawBinding[]);
  return Number(Object.values(result.rows[0] as Record<string, unknown>)[0] ?? 0);
}

/**
 * Counts every invariant of the chaos suite over the run's tables (see tables.ts) and Onceflow's
 * outbox, inbox and dead letters in `schema`. `consumerName` is the inbox consumer the
 * handlers ran under.
 */
export async function checkInvariants(knex: Knex, consumerName: string, schema = 'onceflow'): Promise<CheckResult> {
  const t = tablesFor(schema);
  // A dead letter names its message by dedup key (the idempotency key by default), else by header.
  const deadIk = `coalesce(d.dedup_key, d.headers->>'onceflow-idempotency-key')`;
  return {
    messages: await one(knex, 'select count(*) from chaos_sent'),
    rolledBack: await one(knex, 'select count(*) from chaos_rolled_back'),
    poison: await one(knex, 'select count(*) from chaos_sent where poison'),
    effects: await one(knex, 'select count(*) from chaos_ledger'),
    deadLetters: await one(knex, `select count(*) from ${t.deadLetters} d where d.consumer = ?`, [consumerName]),
    lost: await one(
      knex,
      'select count(*) from chaos_sent s where not s.poison and not exists (select 1 from chaos_ledger l where l.ik = s.ik)',
    ),
    double: await one(knex, 'select coalesce(sum(n - 1), 0) from (select count(*) as n from chaos_ledger group by ik) c'),
    // Each key's effects form a chain through chaos_balance: prev_seq is the sequence applied
    // just before. Sorted by sequence (first effect of each message only, so doubles are not
    // counted twice), every link must point at the previous element; gaps (poison, lost) are
    // allowed, an effect applied out of commit order breaks a link.
    reordered: await one(
      knex,
      `select count(*) from (
         select prev_seq, lag(key_seq, 1, 0) over (partition by topic, key order by key_seq) as expected
         from (select distinct on (ik) topic, key, key_seq, prev_seq from chaos_ledger order by ik, id) first_effects
       ) c where prev_seq <> expected`,
    ),
    phantom: await one(knex, 'select count(*) from chaos_ledger l where not exists (select 1 from chaos_sent s where s.ik = l.ik)'),
    poisonApplied: await one(knex, 'select count(*) from chaos_ledger l join chaos_sent s on s.ik = l.ik where s.poison'),
    poisonMissing: await one(
      knex,
      `select count(*) from chaos_sent s where s.poison
       and not exists (select 1 from ${t.deadLetters} d where d.consumer = ? and ${deadIk} = s.ik)`,
      [consumerName],
    ),
    unexpectedDeadLetters: await one(
      knex,
      `select count(*) from ${t.deadLetters} d where d.consumer = ?
       and not exists (select 1 from chaos_sent s where s.poison and s.ik = ${deadIk})`,
      [consumerName],
    ),
    pending: await one(knex, `select count(*) from ${t.outbox} where status = 'pending'`),
    outboxDead: await one(knex, `select count(*) from ${t.outbox} where status = 'dead'`),
    inboxProcessing: await one(knex, `select count(*) from ${t.inbox} where status = 'processing'`),
    balanceMismatch: await one(
      knex,
      `select count(*) from chaos_balance b
       left join (select topic, key, count(*) as n from chaos_ledger group by topic, key) l on l.topic = b.topic and l.key = b.key
       where b.applied <> coalesce(l.n, 0)`,
    ),
  };
}
