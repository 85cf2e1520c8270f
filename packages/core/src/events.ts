import { EventEmitter } from 'node:events';

/**
 * A typed event emitter: `Events` maps each event name to its payload. Listener errors are
 * the listener's problem; emit never throws into Onceflow's loops.
 */
export class TypedEmitter<Events extends { [K in keyof Events]: unknown }> {
  readonly #emitter = new EventEmitter();

  /** Adds a listener for `event`. Returns a function that removes it. */
  on<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): () => void {
    this.#emitter.on(event, listener);
    return () => this.#emitter.off(event, listener);
  }

  /** Removes a listener. */
  off<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): void {
    this.#emitter.off(event, listener);
  }

  /** Whether anything listens to `event`: payloads that cost work to build are built only then. */
  listens<K extends keyof Events & string>(event: K): boolean {
    return this.#emitter.listenerCount(event) > 0;
  }

  /** Emits `event`; a throwing listener is isolated from the caller. */
  emit<K extends keyof Events & string>(event: K, payload: Events[K]): void {
    for (const listener of this.#emitter.listeners(event)) {
      try {
        (listener as (p: Events[K]) => void)(payload);
      } catch {
        // A faulty hook must not stop a relay or consumer loop.
      }
    }
  }
}
