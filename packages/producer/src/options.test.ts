import { OptionError } from '@onceflow/core';
import { describe, expect, it } from 'vitest';
import { resolveOutboxWriterOptions } from './options.ts';

describe('resolveOutboxWriterOptions', () => {
  it('defaults the header limits and takes valid ones', () => {
    expect(resolveOutboxWriterOptions()).toMatchObject({ maxHeaders: 64, maxHeaderBytes: 16_384 });
    expect(resolveOutboxWriterOptions({ maxHeaders: 2, maxHeaderBytes: 100 })).toMatchObject({ maxHeaders: 2, maxHeaderBytes: 100 });
  });

  it('refuses bad header limits naming the option and the value', () => {
    for (const [option, value] of [
      ['maxHeaders', -1],
      ['maxHeaders', 1.5],
      ['maxHeaderBytes', '16k'],
    ] as const) {
      let error: unknown;
      try {
        resolveOutboxWriterOptions({ [option]: value } as never);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(OptionError);
      expect((error as OptionError).option).toBe(option);
      expect((error as OptionError).message).toContain(JSON.stringify(value) === '"16k"' ? '"16k"' : String(value));
    }
  });
});
