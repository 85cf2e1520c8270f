/** Structured fields attached to a log line. Never put credentials here. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The logger Onceflow writes to. pino's logger fits this shape. */
export interface Logger {
  debug(fields: LogFields, message: string): void;
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
  /** A logger whose lines carry `scope`. */
  child(scope: LogFields): Logger;
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 } as const;

/** Log levels in increasing severity. */
export type LogLevel = keyof typeof LEVELS;

/** A logger that writes one JSON object per line to stderr, at `level` and above. */
export function createJsonLogger(level: LogLevel = 'info', bound: LogFields = {}): Logger {
  const min = LEVELS[level];
  const write = (name: Exclude<LogLevel, 'silent'>, fields: LogFields, message: string) => {
    if (LEVELS[name] < min) return;
    const line = { time: new Date().toISOString(), level: name, ...bound, ...fields, msg: message };
    process.stderr.write(`${JSON.stringify(line, errorReplacer)}\n`);
  };
  return {
    debug: (f, m) => write('debug', f, m),
    info: (f, m) => write('info', f, m),
    warn: (f, m) => write('warn', f, m),
    error: (f, m) => write('error', f, m),
    child: (scope) => createJsonLogger(level, { ...bound, ...scope }),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = createJsonLogger('silent');

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }) };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}
