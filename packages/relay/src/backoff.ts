/**
 * Delay before attempt `attempt + 1` after `attempt` failures (1-based): exponential from
 * `minMs`, capped at `maxMs`, with "equal jitter" (half fixed, half random) so relays that
 * failed together do not retry together, while the delay never drops below half its step.
 */
export function backoffMs(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40));
  const half = step / 2;
  return Math.round(half + random() * half);
}
