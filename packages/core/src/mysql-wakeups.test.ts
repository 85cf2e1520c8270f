import { describe, expect, it } from 'vitest';
import { hasMysqlRelays, onMysqlCommit, wakeMysqlRelays } from './mysql-wakeups.ts';

describe('in-process wake-ups of MySQL relays', () => {
  it('reaches every relay of the schema, and only those, until each unregisters', () => {
    const heard: string[] = [];
    const offA = onMysqlCommit('billing', (shards) => heard.push(`a:${shards.join(',')}`));
    const offB = onMysqlCommit('billing', (shards) => heard.push(`b:${shards.join(',')}`));
    const offOther = onMysqlCommit('orders', (shards) => heard.push(`o:${shards.join(',')}`));
    expect(hasMysqlRelays('billing')).toBe(true);
    wakeMysqlRelays('billing', [3, 17]);
    expect(heard).toEqual(['a:3,17', 'b:3,17']);
    offA();
    wakeMysqlRelays('billing', [1]);
    expect(heard).toEqual(['a:3,17', 'b:3,17', 'b:1']);
    offB();
    expect(hasMysqlRelays('billing')).toBe(false);
    wakeMysqlRelays('billing', [2]);
    expect(heard).toHaveLength(3);
    offOther();
    expect(hasMysqlRelays('orders')).toBe(false);
  });

  it('lets the other relays hear a wake-up one of them throws on', () => {
    const heard: number[][] = [];
    const offBad = onMysqlCommit('s', () => {
      throw new Error('broken listener');
    });
    const offGood = onMysqlCommit('s', (shards) => heard.push([...shards]));
    expect(() => wakeMysqlRelays('s', [5])).not.toThrow();
    expect(heard).toEqual([[5]]);
    offBad();
    offGood();
  });
});
