import { describe, expect, it } from 'vitest';
import { attemptError, noteFailure } from './dead-letters.ts';

describe('a dead letter error history', () => {
  it('dates each attempt when it failed, not when the message was parked', async () => {
    const first = noteFailure(new Error('first')) as Error;
    await new Promise((resolve) => setTimeout(resolve, 30));
    const second = noteFailure(new Error('second')) as Error;
    await new Promise((resolve) => setTimeout(resolve, 30));
    const history = [attemptError(1, first), attemptError(2, second)];
    const [a, b] = history.map((h) => Date.parse(h.at));
    expect((b as number) - (a as number)).toBeGreaterThanOrEqual(25);
    expect(Date.now() - (b as number)).toBeGreaterThanOrEqual(25);
    // Noting the same error again keeps its first time; a primitive error is dated now.
    expect(attemptError(1, noteFailure(first)).at).toBe(history[0]?.at);
    expect(Date.now() - Date.parse(attemptError(3, 'boom').at)).toBeLessThan(25);
  });
});
