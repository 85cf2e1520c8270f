import { describe, expect, it } from 'vitest';
import { printable } from './printable.ts';

describe('printable', () => {
  it('keeps ordinary text, including non-ASCII letters and emoji, as it is', () => {
    expect(printable('order-42 Zürich 東京 🎉 a b')).toBe('order-42 Zürich 東京 🎉 a b');
  });

  it('escapes line breaks, tabs and terminal escape sequences', () => {
    expect(printable('a\nb\r\tc')).toBe('a\\nb\\r\\tc');
    expect(printable('\x1b[31mred\x1b[0m\x07')).toBe('\\x1b[31mred\\x1b[0m\\x07');
    expect(printable('\0\x7f\x85')).toBe('\\x00\\x7f\\x85');
  });

  it('escapes invisible format characters, separators, private use and lone surrogates', () => {
    expect(printable('abc\u202edef')).toBe('abc\\u{202e}def');
    expect(printable('a\u200bb\u2028c\u2029d')).toBe('a\\u{200b}b\\u{2028}c\\u{2029}d');
    expect(printable('\ue000')).toBe('\\u{e000}');
    expect(printable('x\ud800y')).toBe('x\\u{d800}y');
  });

  it('doubles backslashes so an escape in the output is never ambiguous', () => {
    expect(printable('C:\\n')).toBe('C:\\\\n');
    expect(printable('a\nb')).not.toBe(printable('a\\nb'));
  });
});
