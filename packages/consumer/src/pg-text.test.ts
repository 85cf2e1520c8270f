import { describe, expect, it } from 'vitest';
import { pgJson, pgText } from './pg-text.ts';

describe('pgText', () => {
  it('replaces NUL, which PostgreSQL text cannot store, and leaves other text alone', () => {
    expect(pgText('a\u0000b\u0000')).toBe('a\uFFFDb\uFFFD');
    expect(pgText('plain')).toBe('plain');
    expect(pgText(null)).toBeNull();
  });

  it('reaches every string of a JSON value, names included', () => {
    expect(pgJson({ 'x\u0000': ['a\u0000', 1, null, { y: 'b\u0000' }] })).toEqual({ 'x\uFFFD': ['a\uFFFD', 1, null, { y: 'b\uFFFD' }] });
  });
});
