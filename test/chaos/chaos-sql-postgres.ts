import type { Knex } from 'knex';
import type { ChaosSql } from './chaos-sql.ts';

const DEAD_LETTER_IK = `coalesce(d.dedup_key, d.headers->>'onceflow-idempotency-key')`;

/** The chaos SQL on PostgreSQL: arrays through `unnest`, sessions told apart by `application_name`. */
export const postgresChaosSql: ChaosSql = {
  createTables: [
    `create table chaos_keys (
      topic text not null,
      msg_key text not null,
      last_seq integer not null default 0,
      primary key (topic, msg_key)
    )`,
    `create table chaos_sent (
      ik text primary key,
      tx text not null,
      worker integer not null,
      topic text not null,
      msg_key text not null,
      key_seq integer not null,
      poison boolean not null default false,
      committed_at timestamptz not null default now(),
      unique (topic, msg_key, key_seq)
    )`,
    'create table chaos_rolled_back (ik text primary key, tx text not null)',
    `create table chaos_balance (
      topic text not null,
      msg_key text not null,
      last_seq integer not null default 0,
      applied integer not null default 0,
      primary key (topic, msg_key)
    )`,
    `create table chaos_ledger (
      id bigint generated always as identity primary key,
      ik text not null,
      message_id text,
      topic text not null,
      msg_key text not null,
      key_seq integer not null,
      prev_seq integer not null,
      consumer text not null,
      applied_at timestamptz not null default now()
    )`,
    'create index chaos_ledger_ik on chaos_ledger (ik)',
  ],

  async seedKeys(knex, table, topics, keys) {
    await knex.raw(`insert into ${table} (topic, msg_key) select t, k from unnest(?::text[]) t, unnest(?::text[]) k`, [
      [...topics],
      [...keys],
    ]);
  },

  async lockKeys(trx, keys) {
    const result = await trx.raw(
      `select topic, msg_key, last_seq from chaos_keys
       where (topic, msg_key) in (select * from unnest(?::text[], ?::text[]))
       order by topic, msg_key for update`,
      [keys.map((k) => k.topic), keys.map((k) => k.key)],
    );
    return (result.rows as Array<{ topic: string; msg_key: string; last_seq: number }>).map((r) => ({
      topic: r.topic,
      key: r.msg_key,
      seq: r.last_seq,
    }));
  },

  async setKeySeqs(trx, keys) {
    await trx.raw(
      `update chaos_keys k set last_seq = v.seq from unnest(?::text[], ?::text[], ?::int[]) v(topic, msg_key, seq)
       where k.topic = v.topic and k.msg_key = v.msg_key`,
      [keys.map((k) => k.topic), keys.map((k) => k.key), keys.map((k) => k.seq)],
    );
  },

  async insertSent(trx, rows) {
    await trx.raw(
      `insert into chaos_sent (ik, tx, worker, topic, msg_key, key_seq, poison)
       select * from unnest(?::text[], ?::text[], ?::int[], ?::text[], ?::text[], ?::int[], ?::boolean[])`,
      [
        rows.map((r) => r.ik),
        rows.map((r) => r.tx),
        rows.map((r) => r.worker),
        rows.map((r) => r.topic),
        rows.map((r) => r.key),
        rows.map((r) => r.seq),
        rows.map((r) => r.poison),
      ],
    );
  },

  async isSent(knex, ik) {
    const result = await knex.raw('select 1 from chaos_sent where ik = ?', [ik]);
    return result.rows.length > 0;
  },

  async recordRolledBack(knex, iks, tx) {
    await knex.raw('insert into chaos_rolled_back (ik, tx) select unnest(?::text[]), ? on conflict do nothing', [[...iks], tx]);
  },

  async lockBalance(trx, topic, key) {
    const result = await trx.raw('select last_seq from chaos_balance where topic = ? and msg_key = ? for update', [topic, key]);
    return (result.rows[0] as { last_seq: number } | undefined)?.last_seq;
  },

  deadLetterIk: DEAD_LETTER_IK,

  async drainState(knex, tables, consumerName) {
    const result = await knex.raw(
      `select
        (select count(*) from ${tables.outbox} where status = 'pending') as pending,
        (select count(*) from chaos_sent s where not s.poison and not exists (select 1 from chaos_ledger l where l.ik = s.ik)) as unhandled,
        (select count(*) from chaos_sent s where s.poison
          and not exists (select 1 from ${tables.deadLetters} d
            where d.consumer = ? and ${DEAD_LETTER_IK} = s.ik)) as unparked`,
      [consumerName],
    );
    const row = result.rows[0] as Record<string, string>;
    return { pending: Number(row.pending), unhandled: Number(row.unhandled), unparked: Number(row.unparked) };
  },

  async count(knex, sql, bindings = []) {
    const result = await knex.raw(sql, bindings as Knex.RawBinding[]);
    return Number(Object.values(result.rows[0] as Record<string, unknown>)[0] ?? 0);
  },

  async prepareRoles() {},

  async releaseRoles() {},

  async killSessions(knex, scope) {
    const role = scope === 'all' ? 'chaos-%' : `chaos-${scope}-%`;
    const result = await knex.raw(
      `select count(pg_terminate_backend(pid)) as n from pg_stat_activity
       where datname = current_database() and pid <> pg_backend_pid()
         and application_name like ? and application_name <> 'chaos-harness'`,
      [role],
    );
    return Number(result.rows[0].n);
  },

  async republish(knex, tables, salt, percent) {
    const result = await knex.raw(
      `update ${tables.outbox} set status = 'pending', published_at = null
       where status = 'published' and (seq + ?) % 100 < ?`,
      [salt, percent],
    );
    return result.rowCount ?? 0;
  },
};
