import { fnv1a32 } from '@onceflow/core';
import type { Knex } from 'knex';

/**
 * Runs one of the relay's hot statements as a named prepared statement (knex passes the name
 * through to pg, which prepares it once per connection), so PostgreSQL parses and plans it
 * once per connection instead of once per batch. The name is derived from the SQL text, so
 * one name always means one text.
 */
export function prepared(knex: Knex, sql: string, bindings: readonly unknown[]): Knex.Raw {
  const name = `onceflow_${fnv1a32(sql).toString(36)}_${sql.length.toString(36)}`;
  return knex.raw(sql, bindings as Knex.RawBinding[]).options({ name });
}
