import type { ConsumedMessage } from '../consumed-message.ts';
import { InboxRowWait } from '../errors.ts';
import { GroupFailure } from '../inbox.ts';
import type { AttemptResult, Item } from '../run-context.ts';

/** How long a unit waits for another transaction's inbox rows before it tries again. */
const ROW_WAIT_MS = 100;

/**
 * The failed result of an inbox transaction: a {@link GroupFailure} is unwrapped to its cause,
 * and `isolate` maps the index it names (-1: none) to what runs next. Any other error names no
 * message. An {@link InboxRowWait} is no failure of the messages: it is answered as busy, so
 * the unit waits and tries again without spending an attempt.
 */
export function attemptFailure(
  error: unknown,
  isolate: (index: number) => number | 'each' | 'none',
  random: () => number = Math.random,
): AttemptResult {
  const cause = error instanceof GroupFailure ? error.cause : error;
  if (cause instanceof InboxRowWait) return { kind: 'busy', retryInMs: ROW_WAIT_MS + Math.floor(random() * ROW_WAIT_MS) };
  if (error instanceof GroupFailure) return { kind: 'failed', error: error.cause, isolate: isolate(error.index) };
  return { kind: 'failed', error, isolate: isolate(-1) };
}

/** The messages of `items`, in order. */
export function messagesOf(items: readonly Item[]): ConsumedMessage[] {
  return items.map((i) => i.message);
}

/** The dedup keys of `items`, which a queue only groups when every one has its key. */
export function dedupKeysOf(items: readonly Item[]): string[] {
  return items.map((i) => i.dedupKey as string);
}
