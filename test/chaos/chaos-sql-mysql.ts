import { assertIdentifier, mysqlErrno, quoteMysqlIdentifier } from '@onceflow/core';
import type { Knex } from 'knex';
import type { ChaosSql } from './chaos-sql.ts';
import type { PgScope } from './schedule.ts';

/**
 * The chaos SQL on MySQL 8 and MariaDB 10.6+, in what both accept: multi-row VALUES lists
 * instead of arrays, `ON DUPLICATE KEY UPDATE` with VALUES() (deprecated on MySQL 8.0.20+, still
 * there, and the only spelling MariaDB has), `json_extract` instead of `->>`.
 *
 * Keys are ASCII with a binary collation, so a primary key over them compares bytes as
 * PostgreSQL's text equality does (no case folding, no trailing-space padding) and stays small.
 */
const ASCII = 'character set ascii collate ascii_bin';
const TABLE_OPTIONS = 'engine=InnoDB default character set utf8mb4 collate utf8mb4_bin';

/**
 * Sessions carry no application name on MySQL, so each role connects as a user of its own
 * (connectAs in worker-io.ts picks it) and a session kill finds a role's sessions by user.
 */
export const MYSQL_ROLE_USERS = {
  producer: 'chaos_producer',
  relay: 'chaos_relay',
  consumer: 'chaos_consumer',
} as const;

/** The user a chaos process named `applicationName` (`chaos-relay-1`, ...) connects as; undefined: the URL's own (the harness). */
export function mysqlRoleUser(applicationName: string): string | undefined {
  const role = /^chaos-(producer|relay|consumer)-/.exec(applicationName)?.[1] as keyof typeof MYSQL_ROLE_USERS | undefined;
  return role === undefined ? undefined : MYSQL_ROLE_USERS[role];
}

/** mysql2's `knex.raw` result: `[rows, fields]` for a query, `[ResultSetHeader]` for a change. */
function rowsOf<Row>(result: unknown): Row[] {
  return (result as [Row[]])[0];
}

function placeholders(rows: number, columns: number): string {
  const row = `(${Array.from({ length: columns }, () => '?').join(', ')})`;
  return Array.from({ length: rows }, () => row).join(', ');
}

const DEAD_LETTER_IK = `coalesce(d.dedup_key, cast(json_unquote(json_extract(d.headers, '$."onceflow-idempotency-key"')) as binary))`;

// Unknown thread id: the session ended between the processlist read and the kill.
const ER_NO_SUCH_THREAD = 1094;
// There is no such grant: the database's grants were revoked already.
const ER_NONEXISTING_GRANT = 1141;

/** The chaos SQL on MySQL and MariaDB. */
export const mysqlChaosSql: ChaosSql = {
  createTables: [
    `create table chaos_keys (
      topic varchar(249) ${ASCII} not null,
      msg_key varchar(64) ${ASCII} not null,
      last_seq int not null default 0,
      primary key (topic, msg_key)
    ) ${TABLE_OPTIONS}`,
    `create table chaos_sent (
      ik varchar(100) ${ASCII} not null primary key,
      tx varchar(100) ${ASCII} not null,
      worker int not null,
      topic varchar(249) ${ASCII} not null,
      msg_key varchar(64) ${ASCII} not null,
      key_seq int not null,
      poison boolean not null default false,
      committed_at datetime(6) not null default (utc_timestamp(6)),
      unique key chaos_sent_key_seq (topic, msg_key, key_seq)
    ) ${TABLE_OPTIONS}`,
    `create table chaos_rolled_back (ik varchar(100) ${ASCII} not null primary key, tx varchar(100) ${ASCII} not null) ${TABLE_OPTIONS}`,
    `create table chaos_balance (
      topic varchar(249) ${ASCII} not null,
      msg_key varchar(64) ${ASCII} not null,
      last_seq int not null default 0,
      applied int not null default 0,
      primary key (topic, msg_key)
    ) ${TABLE_OPTIONS}`,
    `create table chaos_ledger (
      id bigint not null auto_increment primary key,
      ik varchar(100) ${ASCII} not null,
      message_id varchar(100) ${ASCII},
      topic varchar(249) ${ASCII} not null,
      msg_key varchar(64) ${ASCII} not null,
      key_seq int not null,
      prev_seq int not null,
      consumer varchar(100) not null,
      applied_at datetime(6) not null default (utc_timestamp(6)),
      key chaos_ledger_ik (ik)
    ) ${TABLE_OPTIONS}`,
  ],

  async seedKeys(knex, table, topics, keys) {
    const pairs = topics.flatMap((topic) => keys.map((key) => [topic, key]));
    await knex.raw(`insert into ${table} (topic, msg_key) values ${placeholders(pairs.length, 2)}`, pairs.flat());
  },

  // InnoDB locks the rows in the order it reads them: a range scan of the primary key over the
  // listed (topic, msg_key) points, ascending, the same order in every transaction, so two
  // producers never lock crossed. Each point is a whole unique key: a record lock, no gap.
  async lockKeys(trx, keys) {
    const result = await trx.raw(
      `select topic, msg_key, last_seq from chaos_keys
       where (topic, msg_key) in (${placeholders(keys.length, 2)})
       order by topic, msg_key for update`,
      keys.flatMap((k) => [k.topic, k.key]),
    );
    return rowsOf<{ topic: string; msg_key: string; last_seq: number }>(result).map((r) => ({
      topic: r.topic,
      key: r.msg_key,
      seq: r.last_seq,
    }));
  },

  // Every row exists and is locked by lockKeys, so this only ever takes the update branch.
  async setKeySeqs(trx, keys) {
    await trx.raw(
      `insert into chaos_keys (topic, msg_key, last_seq) values ${placeholders(keys.length, 3)}
       on duplicate key update last_seq = values(last_seq)`,
      keys.flatMap((k) => [k.topic, k.key, k.seq]),
    );
  },

  async insertSent(trx, rows) {
    await trx.raw(
      `insert into chaos_sent (ik, tx, worker, topic, msg_key, key_seq, poison) values ${placeholders(rows.length, 7)}`,
      rows.flatMap((r) => [r.ik, r.tx, r.worker, r.topic, r.key, r.seq, r.poison]),
    );
  },

  async isSent(knex, ik) {
    return rowsOf(await knex.raw('select 1 from chaos_sent where ik = ?', [ik])).length > 0;
  },

  async recordRolledBack(knex, iks, tx) {
    await knex.raw(
      `insert into chaos_rolled_back (ik, tx) values ${placeholders(iks.length, 2)} on duplicate key update tx = tx`,
      iks.flatMap((ik) => [ik, tx]),
    );
  },

  async lockBalance(trx, topic, key) {
    const result = await trx.raw('select last_seq from chaos_balance where topic = ? and msg_key = ? for update', [topic, key]);
    return rowsOf<{ last_seq: number }>(result)[0]?.last_seq;
  },

  // dead_letters.dedup_key is VARBINARY and the header a utf8mb4 string: both compared as bytes
  // with chaos_sent.ik (ASCII), as PostgreSQL compares the text.
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
    const row = rowsOf<Record<string, string | number>>(result)[0] ?? {};
    return { pending: Number(row.pending), unhandled: Number(row.unhandled), unparked: Number(row.unparked) };
  },

  async count(knex, sql, bindings = []) {
    const row = rowsOf<Record<string, unknown>>(await knex.raw(sql, bindings as Knex.RawBinding[]))[0];
    return Number(Object.values(row ?? {})[0] ?? 0);
  },

  // The users have no password and rights on the run's database only; they stay on the server
  // for the next run (a concurrent run may be using them), only the database's grants go.
  async prepareRoles(knex, database) {
    const db = quoteMysqlIdentifier(assertIdentifier('database', database));
    for (const user of Object.values(MYSQL_ROLE_USERS)) {
      await knex.raw("create user if not exists ?@'%'", [user]);
      await knex.raw(`grant all privileges on ${db}.* to ?@'%'`, [user]);
    }
  },

  async releaseRoles(knex, database) {
    const db = quoteMysqlIdentifier(assertIdentifier('database', database));
    for (const user of Object.values(MYSQL_ROLE_USERS)) {
      await knex.raw(`revoke all privileges on ${db}.* from ?@'%'`, [user]).catch((error: unknown) => {
        if (mysqlErrno(error) !== ER_NONEXISTING_GRANT) throw error;
      });
    }
  },

  // A session kill: the server stays up, the session's open transaction rolls back, as with
  // pg_terminate_backend. Only sessions in the run's own database, never the harness's (root).
  async killSessions(knex, scope: PgScope) {
    const users = scope === 'all' ? Object.values(MYSQL_ROLE_USERS) : [MYSQL_ROLE_USERS[scope]];
    const sessions = rowsOf<{ id: number }>(
      await knex.raw(
        `select id from information_schema.processlist
         where db = database() and id <> connection_id() and user in ${placeholders(1, users.length)}`,
        users,
      ),
    );
    let killed = 0;
    for (const { id } of sessions) {
      try {
        await knex.raw('kill connection ?', [Number(id)]);
        killed++;
      } catch (error) {
        if (mysqlErrno(error) !== ER_NO_SUCH_THREAD) throw error;
      }
    }
    return killed;
  },

  async republish(knex, tables, salt, percent) {
    const result = await knex.raw(
      `update ${tables.outbox} set status = 'pending', published_at = null
       where status = 'published' and (seq + ?) % 100 < ?`,
      [salt, percent],
    );
    return (result as [{ affectedRows: number }])[0].affectedRows;
  },
};
