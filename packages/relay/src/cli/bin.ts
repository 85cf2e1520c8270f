#!/usr/bin/env node
import { assertNodeVersion, OnceflowError, OptionError } from '@onceflow/core';
import { deadCommand, deadLettersCommand, migrateCommand, pruneCommand, relayCommand, statusCommand, UsageError } from './commands.ts';
import { COMMAND_HELP, PROGRAM_HELP } from './help.ts';

const out = { line: (text: string) => process.stdout.write(`${text}\n`) };
const [command, ...rest] = process.argv.slice(2);
const wantsHelp = rest.includes('--help') || rest.includes('-h');

try {
  assertNodeVersion();
  if (command !== undefined && wantsHelp && COMMAND_HELP[command] !== undefined) {
    out.line(COMMAND_HELP[command]);
  } else {
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
      case '-h':
        out.line(PROGRAM_HELP);
        break;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  }
} catch (error) {
  const code = (error as { code?: unknown }).code;
  // A flag node:util's parseArgs refused, or a flag value of the wrong shape: the command line's fault.
  if (error instanceof UsageError || error instanceof OptionError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) {
    const help = (command !== undefined && COMMAND_HELP[command]) || PROGRAM_HELP;
    process.stderr.write(`onceflow: ${(error as Error).message}\n\n${help}\n`);
    process.exitCode = 2;
  } else {
    const tag = error instanceof OnceflowError ? ` [${error.code}]` : '';
    process.stderr.write(`onceflow: ${(error as Error).message}${tag}\n`);
    process.exitCode = 1;
  }
}
