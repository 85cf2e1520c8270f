export type { OutboxWriterOptions, ResolvedOutboxWriterOptions } from './options.ts';
export { resolveOutboxWriterOptions } from './options.ts';
export type { EnqueuedMessage } from './outbox-writer.ts';
export { DuplicateMessageError, enqueue, OutboxWriter } from './outbox-writer.ts';
