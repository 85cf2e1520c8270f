import { describe, expect, it } from 'vitest';
import { parseShards } from './listener.ts';

describe('parseShards', () => {
  it('reads the shard list of a notification, or asks to wake everything', () => {
    expect(parseShards('3,17')).toEqual([3, 17]);
    expect(parseShards('')).toBeNull();
    expect(parseShards(undefined)).toBeNull();
    expect(parseShards('x')).toBeNull();
  });
});
