import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import { INBOX_PRUNED_PREFIX } from './delete-old-inbox-rows.ts';
import type { GroupNote } from './group-note.ts';
import { GROUP_NOTE_PREFIX, parseGroupNote } from './group-note.ts';

/** What the database remembers of a consumer name having applied messages before. */
export interface ConsumerHistory {
  /** Inbox rows (done or, in side-effect mode, processing). */
  inboxRows: boolean;
  /** Dead letters, parked or replayed. */
  deadLetters: boolean;
  /** Retention removed some of its inbox rows (the `meta` note pruning leaves). */
  pruned: boolean;
  /** The group that last started over the name, if one was noted. */
  group?: GroupNote | undefined;
}

/**
 * Whether `consumer` has history. Each probe stops at its first row: the inbox's primary key
 * leads with the consumer, the meta row is found by its name, and dead letters are few.
 */
export async function selectHistory(knex: Knex, tables: Tables, consumer: string): Promise<ConsumerHistory> {
  const result = await knex.raw(
    `select exists(select 1 from ${tables.inbox} where consumer = ?) as inbox_rows,
            exists(select 1 from ${tables.deadLetters} where consumer = ?) as dead_letters,
            exists(select 1 from ${tables.meta} where name = ? || ?::text) as pruned,
            (select value from ${tables.meta} where name = ? || ?::text) as group_note`,
    [consumer, consumer, INBOX_PRUNED_PREFIX, consumer, GROUP_NOTE_PREFIX, consumer],
  );
  const row = (result.rows as Array<{ inbox_rows: boolean; dead_letters: boolean; pruned: boolean; group_note: string | null }>)[0];
  return {
    inboxRows: row?.inbox_rows === true,
    deadLetters: row?.dead_letters === true,
    pruned: row?.pruned === true,
    group: parseGroupNote(row?.group_note),
  };
}
