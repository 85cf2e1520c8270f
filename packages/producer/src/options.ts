import type { Tables } from '@onceflow/core';
import { choiceOption, DEFAULT_SCHEMA, intOption, tablesFor } from '@onceflow/core';

/** Options of {@link OutboxWriter}. */
export interface OutboxWriterOptions {
  /** Schema holding Onceflow's tables. @defaultValue "onceflow" */
  schema?: string;
  /** Largest encoded payload accepted, in bytes (Kafka's default record limit is 1 MiB). @defaultValue 1000000 */
  maxPayloadBytes?: number;
  /**
   * What enqueueing an existing `(topic, idempotencyKey)` does: `'return'` gives back the
   * message already stored, `'error'` throws {@link DuplicateMessageError}. @defaultValue 'return'
   */
  onDuplicate?: 'return' | 'error';
}

/** {@link OutboxWriterOptions} with every default applied. */
export interface ResolvedOutboxWriterOptions {
  readonly tables: Tables;
  readonly maxPayloadBytes: number;
  readonly onDuplicate: 'return' | 'error';
}

/** Validates options; throws OptionError naming the first bad one. */
export function resolveOutboxWriterOptions(options: OutboxWriterOptions = {}): ResolvedOutboxWriterOptions {
  return {
    tables: tablesFor(options.schema ?? DEFAULT_SCHEMA),
    maxPayloadBytes: intOption('maxPayloadBytes', options.maxPayloadBytes, 1_000_000, 1, 100_000_000),
    onDuplicate: choiceOption('onDuplicate', options.onDuplicate, 'return', ['return', 'error'] as const),
  };
}
