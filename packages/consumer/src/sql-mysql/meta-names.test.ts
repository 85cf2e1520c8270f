import { describe, expect, it } from 'vitest';
import { isDuplicateKey, isMysqlDataError } from './errors.ts';
import { metaNameFor } from './meta-names.ts';

describe('metaNameFor', () => {
  it('keeps a name that fits VARCHAR(64) ASCII, and hashes any other into 64 ASCII characters, one name per consumer', () => {
    expect(metaNameFor('consumer_group:', 'rewards')).toBe('consumer_group:rewards');
    const long = metaNameFor('consumer_group:', 'r'.repeat(60));
    const unicode = metaNameFor('consumer_group:', '\u4E2D\u6587');
    const marked = metaNameFor('consumer_group:', '#rewards');
    for (const name of [long, unicode, marked]) {
      expect(name).toMatch(/^consumer_group:#[A-Za-z0-9_-]{43}$/);
      expect(name.length).toBeLessThanOrEqual(64);
    }
    expect(new Set([long, unicode, marked, metaNameFor('consumer_group:', 'r'.repeat(61))]).size).toBe(4);
    // meta.name compares with PAD SPACE: a trailing space would not tell two names apart.
    expect(metaNameFor('inbox_pruned:', 'orders ')).toMatch(/^inbox_pruned:#[A-Za-z0-9_-]{43}$/);
    expect(metaNameFor('inbox_pruned:', 'orders')).toBe('inbox_pruned:orders');
    expect(metaNameFor('inbox_pruned:', '\u4E2D\u6587')).toBe(`inbox_pruned:${unicode.slice('consumer_group:'.length)}`);
  });
});

describe('MySQL error classes, by errno', () => {
  it('tells duplicates and refused data apart', () => {
    expect(isDuplicateKey({ errno: 1062 })).toBe(true);
    expect(isDuplicateKey({ errno: 1213, message: 'Duplicate entry' })).toBe(false);
    expect([1406, 1366, 4025, 3140].map((errno) => isMysqlDataError({ errno }))).toEqual([true, true, true, true]);
    expect(isMysqlDataError({ errno: 1213 })).toBe(false);
    expect(isMysqlDataError(new Error('x'))).toBe(false);
  });
});
