import type { Dialect } from './dialect.ts';
import { assertIdentifier } from './identifiers.ts';
import type { Tables } from './schema.ts';
import { channelFor, tablesFor } from './schema.ts';

/**
 * The table names of an Onceflow database on MySQL or MariaDB. There a database plays the part
 * of a PostgreSQL schema: `schema` names the database holding Onceflow's tables (it may be the
 * application's own or one beside it on the same server; a transaction spans both).
 */
export interface MysqlTables extends Tables {
  /** One row per (topic, key) lock id, locked by producers in place of advisory locks. */
  readonly keyLocks: string;
}

/** Quotes an identifier that {@link assertIdentifier} accepted, for MySQL. */
export function quoteMysqlIdentifier(name: string): string {
  return `\`${name}\``;
}

/** Resolves the table names of `schema` (validated) for MySQL and MariaDB: `` `schema`.`outbox` ``. */
export function mysqlTablesFor(schema: string): MysqlTables {
  const s = quoteMysqlIdentifier(assertIdentifier('schema', schema));
  return {
    schema,
    outbox: `${s}.\`outbox\``,
    inbox: `${s}.\`inbox\``,
    relayShards: `${s}.\`relay_shards\``,
    relays: `${s}.\`relays\``,
    deadLetters: `${s}.\`dead_letters\``,
    meta: `${s}.\`meta\``,
    keyLocks: `${s}.\`key_locks\``,
    // MySQL has no LISTEN/NOTIFY; the name is kept so code reading it needs no branch.
    channel: channelFor(schema),
  };
}

/**
 * The table names of `schema` quoted for `dialect`: {@link tablesFor} for PostgreSQL (its
 * output unchanged), {@link mysqlTablesFor} for MySQL.
 */
export function tablesForDialect(dialect: Dialect, schema: string): Tables {
  return dialect === 'mysql' ? mysqlTablesFor(schema) : tablesFor(schema);
}
