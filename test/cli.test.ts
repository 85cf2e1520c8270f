import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../packages/relay/src/cli/bin.ts', import.meta.url));

/** Runs `onceflow` from its sources; resolves with its exit code and output. */
function onceflow(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

describe('onceflow --help and exit codes', () => {
  it('describes every command and its flags with --help, exit code 0', async () => {
    const program = await onceflow('--help');
    expect(program.code).toBe(0);
    expect(program.stdout).toMatch(/^usage: onceflow <command>/);
    const commands: Array<[string, string[]]> = [
      ['migrate', ['--schema', '--database-url']],
      ['relay', ['--concurrency', '--batch-size']],
      ['status', ['--json']],
      ['dead', ['--topic', '--key', '--limit', '--all']],
      ['dead-letters', ['--consumer', '--limit']],
      ['prune', ['--older-than', '--inbox-older-than', '--redelivery-horizon']],
    ];
    for (const [command, flags] of commands) {
      for (const help of ['--help', '-h']) {
        const result = await onceflow(command, help);
        expect(result.code, `${command} ${help}`).toBe(0);
        expect(result.stdout).toMatch(new RegExp(`^usage: onceflow ${command}`));
        for (const flag of flags) expect(result.stdout, `${command} --help names ${flag}`).toContain(flag);
        expect(result.stdout).toContain('exit codes: 0 done, 1 failed');
      }
    }
  });

  it('exits 2 with the command help on a usage error, 1 on a failure', async () => {
    const unknownCommand = await onceflow('frobnicate');
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toContain('unknown command "frobnicate"');

    const unknownFlag = await onceflow('status', '--frobnicate');
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain('usage: onceflow status');

    const badValue = await onceflow('prune', '--older-than', 'soon');
    expect(badValue.code).toBe(2);
    expect(badValue.stderr).toContain('older-than');

    const unreachable = await onceflow('status', '--database-url', 'postgres://nobody@127.0.0.1:1/none');
    expect(unreachable.code).toBe(1);
  });
});
