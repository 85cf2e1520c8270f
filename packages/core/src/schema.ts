import { assertIdentifier, quoteIdentifier } from './identifiers.ts';

/** The schema version this code understands; each migration bumps it by one. */
export const SCHEMA_VERSION = 4;

/** Default schema holding Onceflow's tables. */
export const DEFAULT_SCHEMA = 'onceflow';

/** Fully quoted table names within one validated schema. */
export interface Tables {
  readonly schema: string;
  readonly outbox: string;
  readonly inbox: string;
  readonly relayShards: string;
  /** Live relays and their heartbeats. */
  readonly relays: string;
  readonly deadLetters: string;
  readonly meta: string;
  /** The LISTEN/NOTIFY channel producers notify on after they commit. */
  readonly channel: string;
}

/** Resolves the table names of `schema` (validated). */
export function tablesFor(schema: string = DEFAULT_SCHEMA): Tables {
  const s = quoteIdentifier(assertIdentifier('schema', schema));
  return {
    schema,
    outbox: `${s}."outbox"`,
    inbox: `${s}."inbox"`,
    relayShards: `${s}."relay_shards"`,
    relays: `${s}."relays"`,
    deadLetters: `${s}."dead_letters"`,
    meta: `${s}."meta"`,
    channel: `onceflow_${schema}`,
  };
}
