import pino from 'pino';

/** Structured fields attached to a log line. Never put credentials here. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * The logger Onceflow writes to: any logger with pino's methods (pino itself, or one of its
 * children) fits.
 */
export interface Logger {
  debug(fields: LogFields, message: string): void;
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
  /** A logger whose lines carry `scope`. */
  child(scope: LogFields): Logger;
}

/** Log levels in increasing severity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/**
 * Field names whose values never reach a log line, wherever Onceflow or a caller's fields put
 * them: passwords, SASL settings and connection strings (which may embed a password).
 */
export const REDACTED_FIELDS: readonly string[] = [
  'password',
  '*.password',
  '*.*.password',
  'sasl',
  '*.sasl',
  'connectionString',
  '*.connectionString',
  'databaseUrl',
  '*.databaseUrl',
  'connection',
  '*.connection',
];

/** Errors as name, message and code (no stack: log lines stay one short line each). */
function serializeError(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const code = (value as { code?: unknown }).code;
  return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }) };
}

/**
 * Onceflow's default logger: pino writing one JSON object per line to stderr at `level` and
 * above, with ISO times, level names, errors under `error` serialized, and
 * {@link REDACTED_FIELDS} replaced by "[redacted]".
 */
export function createJsonLogger(level: LogLevel = 'info', bound: LogFields = {}): Logger {
  return pino(
    {
      level,
      base: { ...bound },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { error: serializeError, err: serializeError },
      redact: { paths: [...REDACTED_FIELDS], censor: '[redacted]' },
    },
    // Synchronous: the lines before a crash or a process.exit are not lost.
    pino.destination({ dest: 2, sync: true }),
  );
}

/** A logger that drops everything. */
export const silentLogger: Logger = createJsonLogger('silent');
