import { describe, expect, it } from 'vitest';
import { channelFor, tablesFor } from './schema.ts';

describe('channelFor', () => {
  it('keeps onceflow_<schema> while it fits, so existing deployments keep their channel', () => {
    expect(tablesFor().channel).toBe('onceflow_onceflow');
    const fits = 's'.repeat(54);
    expect(channelFor(fits)).toBe(`onceflow_${fits}`);
    expect(channelFor(fits)).toHaveLength(63);
  });

  it('bounds the channel of schemas up to 63 characters to 63, distinct for schemas sharing a prefix', () => {
    const a = `${'a'.repeat(60)}_x1`;
    const b = `${'a'.repeat(60)}_x2`;
    expect(a).toHaveLength(63);
    expect(channelFor(a)).toHaveLength(63);
    expect(channelFor(a)).toMatch(/^onceflow_a{45}_[0-9a-f]{8}$/);
    expect(channelFor(a)).not.toBe(channelFor(b));
    expect(channelFor('s'.repeat(55)).length).toBeLessThanOrEqual(63);
  });
});
