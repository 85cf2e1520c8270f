#!/usr/bin/env node
import { createRequire } from 'node:module';
import { assertNodeVersion, OptionError } from '@onceflow/core';
import { UsageError } from './args.ts';
import { migrateCommand, pruneCommand, relayCommand, statusCommand } from './commands.ts';
import { failureLine } from './database.ts';
import { deadCommand, deadLettersCommand } from './dead-commands.ts';
import { COMMAND_HELP, PROGRAM_HELP } from './help.ts';
import type { Output } from './output.ts';
import { ttyProgress } from './output.ts';

/** The version of @onceflow/relay, which brings this command (its package.json is two folders up from src/cli and dist/cli). */
function cliVersion(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

const out: Output = { line: (text: string) => process.stdout.write(`${text}\n`), progress: ttyProgress(process.stderr) };
// kafkajs 2.2.4's request queue sets timers with a negative delay, which Node 24 clamps to 1 ms
// (what older Nodes did silently) and reports on stderr; the warning is noise in an operator's
// terminal and would break the one-line error contract. Every other warning still prints.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const name = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  if (name === 'TimeoutNegativeWarning' || (warning instanceof Error && warning.name === 'TimeoutNegativeWarning')) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

// A reader that stops early (`onceflow dead list | head`) is not a failure of the command.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
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
      case '--version':
      case '-v':
        out.line(`onceflow ${cliVersion()}`);
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
    process.stderr.write(`onceflow: ${failureLine(error)}\n`);
    process.exitCode = 1;
  }
}
