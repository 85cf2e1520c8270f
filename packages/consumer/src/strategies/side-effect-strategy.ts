import { splitByKey } from '../key-queue.ts';
import type { AttemptResult, ConsumerStrategy, Item, QueueLayout } from '../run-context.ts';
import type { EffectHandler, SideEffectInbox } from '../side-effect/side-effect-inbox.ts';

/** What {@link SideEffectStrategy} runs with. */
export interface SideEffectStrategyOptions {
  /** Runs the handler under a lease in the lease store. */
  readonly effects: Pick<SideEffectInbox, 'run'>;
  readonly handler: EffectHandler<unknown>;
  /** The lease length: the longest a busy copy waits before it looks again. */
  readonly leaseMs: number;
  /** Source of the busy wait's jitter, in [0, 1). @defaultValue Math.random */
  readonly random?: () => number;
}

/**
 * Side-effect mode: each message runs alone under a lease with a fencing token; a copy that
 * meets a live lease waits for it to end and never runs beside it.
 */
export class SideEffectStrategy implements ConsumerStrategy {
  readonly mode = 'side-effect';
  readonly #effects: Pick<SideEffectInbox, 'run'>;
  readonly #handler: EffectHandler<unknown>;
  readonly #leaseMs: number;
  readonly #random: () => number;

  constructor(options: SideEffectStrategyOptions) {
    this.#effects = options.effects;
    this.#handler = options.handler;
    this.#leaseMs = options.leaseMs;
    this.#random = options.random ?? Math.random;
  }

  layout(items: readonly Item[], concurrency: number): QueueLayout {
    return { queues: splitByKey(items, (i) => i.message.key, Math.min(concurrency, items.length)), groupSize: 1, splitOnWait: true };
  }

  async attempt(items: readonly Item[]): Promise<AttemptResult> {
    const [item] = items as [Item];
    try {
      const outcome = await this.#effects.run(item.message, this.#handler, item.dedupKey as string);
      if (outcome === 'busy') return { kind: 'busy', retryInMs: Math.min(this.#leaseMs, 100 + this.#random() * 100) };
      return { kind: 'done', outcomes: [outcome], fastPathHits: new Set() };
    } catch (error) {
      return { kind: 'failed', error, isolate: 'each' };
    }
  }
}
