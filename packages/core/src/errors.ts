/** Stable error codes. Callers match on `code`, never on message text. */
export const ErrorCodes = {
  validation: 'ONCEFLOW_VALIDATION',
  option: 'ONCEFLOW_OPTION',
  schemaVersion: 'ONCEFLOW_SCHEMA_VERSION',
  duplicate: 'ONCEFLOW_DUPLICATE',
  publish: 'ONCEFLOW_PUBLISH',
  handler: 'ONCEFLOW_HANDLER',
  dedupKey: 'ONCEFLOW_DEDUP_KEY',
  lease: 'ONCEFLOW_LEASE',
  store: 'ONCEFLOW_STORE',
  notFound: 'ONCEFLOW_NOT_FOUND',
  runtime: 'ONCEFLOW_RUNTIME',
  usage: 'ONCEFLOW_USAGE',
  retryStopped: 'ONCEFLOW_RETRY_STOPPED',
  transaction: 'ONCEFLOW_TRANSACTION',
  startPosition: 'ONCEFLOW_START_POSITION',
  notIdempotent: 'ONCEFLOW_NOT_IDEMPOTENT',
} as const;

/** One of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Options shared by every Onceflow error. */
export interface OnceflowErrorOptions {
  /** The foreign error this one wraps. */
  cause?: unknown;
  /** Whether trying the same operation again may succeed. @defaultValue false */
  retriable?: boolean;
}

/**
 * Base of every error Onceflow throws. Retry loops decide on {@link OnceflowError.retriable};
 * `code` is stable across releases.
 */
export class OnceflowError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** Whether trying again may succeed. */
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: OnceflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** A message handed to Onceflow is invalid; nothing was written. */
export class ValidationError extends OnceflowError {
  /** The offending field, e.g. `key` or `messages[3].payload`. */
  readonly field: string;
  /** A printable rendering of the offending value. */
  readonly value: string;

  constructor(field: string, value: unknown, problem: string, options: OnceflowErrorOptions = {}) {
    const shown = describeValue(value);
    super(ErrorCodes.validation, `Invalid ${field} (${shown}): ${problem}`, options);
    this.field = field;
    this.value = shown;
  }
}

/** An option passed at construction is invalid. */
export class OptionError extends OnceflowError {
  /** The option's name, e.g. `batchSize`. */
  readonly option: string;
  /** A printable rendering of the value received. */
  readonly value: string;

  constructor(option: string, value: unknown, expected: string) {
    const shown = describeValue(value);
    super(ErrorCodes.option, `Invalid option ${option}: expected ${expected}, received ${shown}`);
    this.option = option;
    this.value = shown;
  }
}

/**
 * The database schema is missing, older or newer than this code understands. The message is
 * one line that names the command fixing it, so an operator can act on it from a log line.
 */
export class SchemaVersionError extends OnceflowError {
  /** The schema that was checked. */
  readonly schema: string;
  /** The version found in the database, or null when none is installed. */
  readonly found: number | null;
  /** The version this code needs. */
  readonly expected: number;

  constructor(schema: string, found: number | null, expected: number) {
    const migrate = migrateCommandFor(schema);
    const what =
      found === null
        ? `no Onceflow tables in schema "${schema}" of this database; run \`${migrate}\` first`
        : found < expected
          ? `schema "${schema}" is at version ${found} but this code needs ${expected}; run \`${migrate}\``
          : `schema "${schema}" is at version ${found}, newer than this code understands (${expected}); upgrade the @onceflow packages`;
    super(ErrorCodes.schemaVersion, `Onceflow schema check failed: ${what}`);
    this.schema = schema;
    this.found = found;
    this.expected = expected;
  }
}

/** The `onceflow migrate` command line that creates or upgrades Onceflow's tables in `schema`. */
export function migrateCommandFor(schema: string): string {
  // The literal default, not DEFAULT_SCHEMA: schema.ts imports this module through identifiers.ts.
  return schema === 'onceflow' ? 'onceflow migrate' : `onceflow migrate --schema ${schema}`;
}

/** Node.js or a peer dependency (knex, pg, kafkajs) is at a version Onceflow does not support. */
export class RuntimeVersionError extends OnceflowError {
  /** What was checked: `node` or a package name. */
  readonly dependency: string;
  /** The version found, or null when the package is not installed. */
  readonly found: string | null;
  /** The supported range, e.g. `>=3.1.0 <4`. */
  readonly needed: string;

  constructor(dependency: string, found: string | null, needed: string, fix: string) {
    const what = found === null ? 'it is not installed' : `found ${found}`;
    super(ErrorCodes.runtime, `Onceflow needs ${dependency} ${needed}, but ${what}. ${fix}`);
    this.dependency = dependency;
    this.found = found;
    this.needed = needed;
  }
}

/**
 * What a publish failure is about: `'broker'` when the broker or the connection to it is
 * unavailable (every record would fail alike, so no record is to blame), `'record'` when the
 * broker refused these records (too large, unknown topic, not authorised).
 */
export type PublishErrorScope = 'broker' | 'record';

/** Publishing to the broker failed. */
export class PublishError extends OnceflowError {
  /** The topic being published to. */
  readonly topic: string | undefined;
  /**
   * Whether the broker as a whole or the records failed; undefined when the transport cannot
   * tell. The relay never counts a `'broker'` failure as an attempt of a message.
   */
  readonly scope: PublishErrorScope | undefined;

  constructor(message: string, options: OnceflowErrorOptions & { topic?: string; scope?: PublishErrorScope } = {}) {
    super(ErrorCodes.publish, message, options);
    this.topic = options.topic;
    this.scope = options.scope;
  }
}

/**
 * Where a consumer group without committed offsets starts reading is not settled: a consumer
 * refused to start a new group over history it may have applied before (not retriable: choose
 * a start), or the broker could not say or record the group's offsets (retriable).
 */
export class StartPositionError extends OnceflowError {
  /** The consumer group. */
  readonly groupId: string;
  /** The topics it reads. */
  readonly topics: readonly string[];
  /** The inbox's consumer name, when a consumer refused to start. */
  readonly consumerName: string | undefined;

  constructor(
    message: string,
    context: { groupId: string; topics: readonly string[]; consumerName?: string },
    options: OnceflowErrorOptions = {},
  ) {
    super(ErrorCodes.startPosition, message, options);
    this.groupId = context.groupId;
    this.topics = [...context.topics];
    this.consumerName = context.consumerName;
  }
}

/**
 * Thrown by a handler to say that trying again cannot help (the message is dead-lettered at once).
 * Any other error counts as retriable.
 */
export class FatalHandlerError extends OnceflowError {
  constructor(message: string, options: OnceflowErrorOptions = {}) {
    super(ErrorCodes.handler, message, { ...options, retriable: false });
  }
}

/** Renders a value for an error message without dumping large or secret-looking content. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    return value.length > 80 ? `"${value.slice(0, 77)}..." (${value.length} chars)` : JSON.stringify(value);
  }
  if (typeof value === 'bigint') return `${value}n (BigInt)`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`;
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}

/** True when `error` is an Onceflow error marked retriable, or a foreign error (assumed transient). */
export function isRetriable(error: unknown): boolean {
  if (error instanceof OnceflowError) return error.retriable;
  if (error !== null && typeof error === 'object' && 'retriable' in error) {
    return (error as { retriable: unknown }).retriable !== false;
  }
  return true;
}
