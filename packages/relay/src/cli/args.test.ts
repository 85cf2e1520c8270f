import { OptionError } from '@onceflow/core';
import { describe, expect, it } from 'vitest';
import { parseDuration, parseFlags, parsePositiveInt } from './args.ts';

describe('cli arguments', () => {
  it('parses durations in every unit', () => {
    expect(parseDuration('older-than', '500ms')).toBe(500);
    expect(parseDuration('older-than', '30s')).toBe(30_000);
    expect(parseDuration('older-than', '15m')).toBe(900_000);
    expect(parseDuration('older-than', '2h')).toBe(7_200_000);
    expect(parseDuration('older-than', '7d')).toBe(604_800_000);
  });

  it('refuses a bad duration naming the flag and the value', () => {
    expect(() => parseDuration('older-than', '7 days')).toThrow(OptionError);
    expect(() => parseDuration('older-than', '7 days')).toThrow(/older-than.*"7 days"/);
  });

  it('refuses non-positive integers', () => {
    expect(parsePositiveInt('limit', undefined, 20)).toBe(20);
    expect(parsePositiveInt('limit', '5', 20)).toBe(5);
    expect(() => parsePositiveInt('limit', '0', 20)).toThrow(/limit/);
    expect(() => parsePositiveInt('limit', 'x', 20)).toThrow(/"x"/);
  });

  it('reads the schema from the flag before the environment', () => {
    const { common, positionals } = parseFlags(['list', '--schema', 'billing', '--json'], {});
    expect(common.schema).toBe('billing');
    expect(common.json).toBe(true);
    expect(positionals).toEqual(['list']);
  });

  it('refuses unknown flags', () => {
    expect(() => parseFlags(['--shema', 'x'], {})).toThrow(/shema/);
  });
});
