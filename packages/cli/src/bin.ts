#!/usr/bin/env node
import { OnceflowError } from '@onceflow/core';
import { deadCommand, deadLettersCommand, migrateCommand, pruneCommand, relayCommand, statusCommand, UsageError } from './commands.ts';

const USAGE = `usage: onceflow <command> [flags]

commands:
  migrate                       create or upgrade Onceflow's tables
  relay                         run a relay until SIGTERM/SIGINT
  status                        backlog, oldest pending age, attempts, dead count per topic
  dead list | retry <id...>     dead outbox messages (--topic, --key, --all, --limit)
  dead-letters list | replay    the consumers' dead letters (--consumer, --limit)
  prune                         delete published outbox rows (--older-than 7d) and inbox rows
                                (--inbox-older-than 30d --redelivery-horizon 14d)

flags for every command: --schema S (ONCEFLOW_SCHEMA), --database-url URL (DATABASE_URL), --json
Kafka: KAFKA_BROKERS (default 127.0.0.1:9092)`;

const out = { line: (text: string) => process.stdout.write(`${text}\n`) };
const [command, ...rest] = process.argv.slice(2);

try {
  switch (command) {
    case 'migrate':
      await migrateCommand(rest, out);
      break;
    case 'relay':
      await relayCommand(rest);
      break;
    case 'status':
      await statusCommand(rest, out);
      break;
    case 'dead':
      await deadCommand(rest, out);
      break;
    case 'dead-letters':
      await deadLettersCommand(rest, out);
      break;
    case 'prune':
      await pruneCommand(rest, out);
      break;
    case undefined:
    case 'help':
    case '--help':
      out.line(USAGE);
      break;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
} catch (error) {
  if (error instanceof UsageError || (error as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    process.stderr.write(`onceflow: ${(error as Error).message}\n\n${USAGE}\n`);
    process.exitCode = 2;
  } else {
    const code = error instanceof OnceflowError ? ` [${error.code}]` : '';
    process.stderr.write(`onceflow: ${(error as Error).message}${code}\n`);
    process.exitCode = 1;
  }
}
