import { OptionError } from './errors.ts';

/** Reads an optional integer option within bounds, or its default. */
export function intOption(name: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OptionError(name, value, `an integer from ${min} to ${max}`);
  }
  return value;
}

/** Reads an optional string option that must be one of `choices`, or its default. */
export function choiceOption<T extends string>(name: string, value: unknown, fallback: T, choices: readonly T[]): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new OptionError(name, value, `one of ${choices.map((c) => `'${c}'`).join(', ')}`);
  }
  return value as T;
}

/** Reads an optional boolean option, or its default. */
export function boolOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new OptionError(name, value, 'true or false');
  return value;
}

/** Reads an optional non-empty string option, or its default. */
export function stringOption(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) throw new OptionError(name, value, 'a non-empty string');
  return value;
}

/** Requires a value to be present (the option has no default). */
export function requiredOption<T>(name: string, value: T | undefined, expected: string): T {
  if (value === undefined || value === null) throw new OptionError(name, value, expected);
  return value;
}
