import { describe, expect, it } from 'vitest';
import { fastPathKey } from './fast-path.ts';

const ns = { prefix: 'p:', schema: 'onceflow', consumer: 'c' };

describe('fastPathKey', () => {
  it('keeps tuples apart that plain separators would join into one key', () => {
    const keys = [
      fastPathKey({ ...ns, consumer: 'a:b' }, { scope: '', dedupKey: 'c' }),
      fastPathKey({ ...ns, consumer: 'a' }, { scope: '', dedupKey: 'b:c' }),
      fastPathKey({ ...ns, schema: 'on', consumer: 'ceflow:c' }, { scope: '', dedupKey: 'k' }),
      fastPathKey(ns, { scope: '', dedupKey: 'k' }),
      fastPathKey(ns, { scope: 'orders', dedupKey: 'k' }),
      fastPathKey(ns, { scope: 'orders:k', dedupKey: '' }),
      fastPathKey(ns, { scope: 'orders.refunded', dedupKey: 'k' }),
      // A consumer-scope key spelling what a topic-scope entry would look like.
      fastPathKey(ns, { scope: '', dedupKey: '7:torders:k' }),
      fastPathKey(ns, { scope: '', dedupKey: 'torders:k' }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('keeps schema and consumer readable in front, for scanning one consumer', () => {
    const key = fastPathKey(ns, { scope: 'orders', dedupKey: 'k'.repeat(5_000) });
    expect(key).toMatch(/^p:onceflow:c:[A-Za-z0-9_-]{43}$/);
    expect(fastPathKey(ns, { scope: 'orders', dedupKey: 'k' })).toBe(fastPathKey(ns, { scope: 'orders', dedupKey: 'k' }));
  });
});
