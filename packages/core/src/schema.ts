import { fnv1a32 } from './hash.ts';
import { assertIdentifier, quoteIdentifier } from './identifiers.ts';

/** The schema version this code understands; each migration bumps it by one. */
export const SCHEMA_VERSION = 6;

/** Default schema holding Onceflow's tables, when neither an option nor ONCEFLOW_SCHEMA names one. */
export const DEFAULT_SCHEMA = 'onceflow';

/**
 * The schema used when an option names none: ONCEFLOW_SCHEMA when set and not empty, else
 * {@link DEFAULT_SCHEMA}. Every API that takes a `schema` option, the CLI and the knexfile
 * recipe resolve it the same way, so one variable points a whole service elsewhere.
 */
export function defaultSchema(): string {
  return process.env.ONCEFLOW_SCHEMA || DEFAULT_SCHEMA;
}

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
  /** The LISTEN/NOTIFY channel producers notify on after they commit; see {@link channelFor}. */
  readonly channel: string;
}

/** Resolves the table names of `schema` (validated). */
export function tablesFor(schema: string = defaultSchema()): Tables {
  const s = quoteIdentifier(assertIdentifier('schema', schema));
  return {
    schema,
    outbox: `${s}."outbox"`,
    inbox: `${s}."inbox"`,
    relayShards: `${s}."relay_shards"`,
    relays: `${s}."relays"`,
    deadLetters: `${s}."dead_letters"`,
    meta: `${s}."meta"`,
    channel: channelFor(schema),
  };
}

/** Longest channel name PostgreSQL keeps (NAMEDATALEN - 1 bytes); the schema is ASCII. */
const MAX_CHANNEL_LENGTH = 63;

/**
 * The LISTEN/NOTIFY channel of a schema: `onceflow_<schema>`, or for schemas too long for
 * that (over 54 characters), the first 45 characters of the schema and a hash of all of it.
 * PostgreSQL refuses a longer name in `pg_notify` and silently truncates it in LISTEN, so the
 * two sides would never meet; every writer and listener derives the name here, so they agree.
 */
export function channelFor(schema: string): string {
  const plain = `onceflow_${schema}`;
  if (plain.length <= MAX_CHANNEL_LENGTH) return plain;
  return `onceflow_${schema.slice(0, 45)}_${fnv1a32(schema).toString(16).padStart(8, '0')}`;
}
