export type { CommonFlags } from './args.ts';
export { parseDuration, parseFlags, parsePositiveInt } from './args.ts';
export type { Output } from './commands.ts';
export { deadCommand, deadLettersCommand, migrateCommand, pruneCommand, relayCommand, statusCommand, UsageError } from './commands.ts';
