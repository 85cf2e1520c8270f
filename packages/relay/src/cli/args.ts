import { parseArgs } from 'node:util';
import { defaultSchema, ErrorCodes, OnceflowError, OptionError } from '@onceflow/core';

/** Options every command understands. */
export interface CommonFlags {
  schema: string;
  databaseUrl: string;
  json: boolean;
}

/** Parses `--flag value` pairs after the command words; unknown flags are refused by name. */
export function parseFlags<T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>>(argv: string[], extra: T) {
  const parsed = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      schema: { type: 'string' },
      'database-url': { type: 'string' },
      json: { type: 'boolean' },
      ...extra,
    },
  });
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const positionals = parsed.positionals;
  const common: CommonFlags = {
    schema: (values.schema as string | undefined) ?? defaultSchema(),
    databaseUrl:
      (values['database-url'] as string | undefined) ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    json: values.json === true,
  };
  return { common, values, positionals };
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration such as `500ms`, `30s`, `15m`, `12h` or `7d` into milliseconds. */
export function parseDuration(option: string, text: string | undefined): number {
  const match = text === undefined ? null : /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (match === null) throw new OptionError(option, text, 'a duration such as 30s, 15m, 12h or 7d');
  return Number(match[1]) * (UNITS[match[2] as string] as number);
}

/** Parses a positive integer flag. */
export function parsePositiveInt(option: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new OptionError(option, text, 'a positive integer');
  return n;
}

/** Parses a TCP port (0 picks a free one). */
export function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65_535) throw new OptionError('http-port', text, 'a TCP port from 0 to 65535');
  return n;
}

/** A command line that cannot be run as written (exit code 2, with the command's help). */
export class UsageError extends OnceflowError {
  constructor(message: string) {
    super(ErrorCodes.usage, message);
  }
}
