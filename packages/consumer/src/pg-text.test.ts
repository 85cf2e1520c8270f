import { describe, expect, it } from 'vitest';
import { isDataError, pgJson, pgText, truncateText } from './pg-text.ts';

describe('pgText', () => {
  it('replaces NUL, which PostgreSQL text cannot store, and leaves other text alone', () => {
    expect(pgText('a\u0000b\u0000')).toBe('a\uFFFDb\uFFFD');
    expect(pgText('plain')).toBe('plain');
    expect(pgText(null)).toBeNull();
  });

  it('replaces lone surrogates, which jsonb refuses, and keeps whole pairs', () => {
    expect(pgText('a\ud83d')).toBe('a\uFFFD');
    expect(pgText('\ude00b\u0000')).toBe('\uFFFDb\uFFFD');
    expect(pgText('ok \ud83d\ude00')).toBe('ok \ud83d\ude00');
    expect(JSON.stringify(pgText('x\udbff'))).toBe('"x\uFFFD"');
  });

  it('reaches every string of a JSON value, names included', () => {
    expect(pgJson({ 'x\u0000': ['a\u0000', 1, null, { y: 'b\u0000', 'z\ud800': 'c\udfff' }] })).toEqual({
      'x\uFFFD': ['a\uFFFD', 1, null, { y: 'b\uFFFD', 'z\uFFFD': 'c\uFFFD' }],
    });
  });
});

describe('truncateText', () => {
  it('never leaves half of a surrogate pair at the cut', () => {
    const text = `${'a'.repeat(6)}\ud83d\ude00tail`;
    const cut = truncateText(text, 10);
    expect(cut).toBe('aaaaaa...');
    expect(cut.isWellFormed()).toBe(true);
    expect(truncateText('short', 10)).toBe('short');
    expect(truncateText('abcdefghijkl', 10)).toBe('abcdefg...');
  });
});

describe('isDataError', () => {
  it('is true for data exceptions and program limits only', () => {
    expect(isDataError({ code: '22P02' })).toBe(true);
    expect(isDataError({ code: '54000' })).toBe(true);
    expect(isDataError({ code: '23505' })).toBe(false);
    expect(isDataError({ code: '08006' })).toBe(false);
    expect(isDataError(new Error('x'))).toBe(false);
    expect(isDataError(null)).toBe(false);
  });
});
