import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/**
 * Prefix of the `meta` row that names, per consumer name, the consumer group that last started
 * over it and whether that group ever committed an offset (the consumer name follows the
 * prefix; the value is JSON `{"group": ..., "committed": ...}`).
 *
 * It tells a group's first run that ended before its first offset commit (a crash, a deploy)
 * from a new group: the former left inbox rows but no offsets, and starting it again from the
 * earliest offset only re-reads what that same run read, so it needs no choice. A group that
 * did commit and later has no offsets (Kafka expired them) is treated as new.
 */
export const GROUP_NOTE_PREFIX = 'consumer_group:';

/** The group that last started over a consumer name, and whether it has committed offsets. */
export interface GroupNote {
  readonly group: string;
  readonly committed: boolean;
}

/** Parses the note's value; undefined for a value this code did not write. */
export function parseGroupNote(value: string | null | undefined): GroupNote | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const parsed = JSON.parse(value) as unknown;
    if (parsed === null || typeof parsed !== 'object') return undefined;
    const { group, committed } = parsed as Record<string, unknown>;
    return typeof group === 'string' && typeof committed === 'boolean' ? { group, committed } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Notes that `group` starts over `consumer`. The same group keeps what it noted (a resumed
 * group stays committed); another group replaces the note, not yet committed.
 */
export async function noteGroupStarted(knex: Knex, tables: Tables, consumer: string, group: string): Promise<void> {
  await knex.raw(
    `insert into ${tables.meta} (name, value) values (? || ?::text, ?)
     on conflict (name) do update set value = excluded.value
     where ${tables.meta}.value is distinct from excluded.value
       and (${tables.meta}.value not like '{%' or (${tables.meta}.value::jsonb ->> 'group') is distinct from ?)`,
    [GROUP_NOTE_PREFIX, consumer, JSON.stringify({ group, committed: false }), group],
  );
}

/** Notes that `group` committed an offset over `consumer`. */
export async function noteGroupCommitted(knex: Knex, tables: Tables, consumer: string, group: string): Promise<void> {
  await knex.raw(
    `insert into ${tables.meta} (name, value) values (? || ?::text, ?)
     on conflict (name) do update set value = excluded.value`,
    [GROUP_NOTE_PREFIX, consumer, JSON.stringify({ group, committed: true })],
  );
}
