import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
      ['migrate', ['--schema', '--database-url', '--status', '--sql', '--dialect', 'mysql://', 'mariadb://']],
      ['relay', ['--concurrency', '--batch-size']],
      ['status', ['--json', 'Duplicates skipped are not stored']],
      ['dead', ['--topic', '--key', '--limit', '--all', 'dead show <id>', 'dead purge', 'stderr is a terminal']],
      ['dead-letters', ['--consumer', '--limit', '--all', '--replayed', 'dead-letters show <id>', 'dead-letters purge']],
      ['prune', ['--older-than', '--inbox-older-than', '--redelivery-horizon']],
    ];
    for (const [command, flags] of commands) {
      for (const help of ['--help', '-h']) {
        const result = await onceflow(command, help);
        expect(result.code, `${command} ${help}`).toBe(0);
        expect(result.stdout).toMatch(new RegExp(`^usage: onceflow ${command}`));
        for (const flag of flags) expect(result.stdout, `${command} --help names ${flag}`).toContain(flag);
        expect(result.stdout).toContain('exit codes: 0 done, 1 failed');
        expect(result.stdout, `${command} documents --database-url's exposure`).toMatch(/visible to every user of the machine in `ps`/);
        expect(result.stdout).toContain('set the\n                      DATABASE_URL environment variable instead (the recommended way)');
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

    for (const args of [
      ['dead', 'retry'],
      ['dead', 'purge'],
      ['dead', 'show'],
      ['dead-letters', 'replay'],
      ['dead-letters', 'purge'],
    ]) {
      const noSelection = await onceflow(...args);
      expect(noSelection.code, args.join(' ')).toBe(2);
    }
    const both = await onceflow('dead', 'purge', '0190f3c8-9b7e-7c3a-8f00-000000000001', '--all');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('not both');
    expect((await onceflow('migrate', '--status', '--sql')).code).toBe(2);

    const badValue = await onceflow('prune', '--older-than', 'soon');
    expect(badValue.code).toBe(2);
    expect(badValue.stderr).toContain('older-than');

    const noHorizon = await onceflow('prune', '--inbox-older-than', '2h');
    expect(noHorizon.code).toBe(2);
    expect(noHorizon.stderr).toContain('--inbox-older-than needs --redelivery-horizon');
    const shortWindow = await onceflow('prune', '--inbox-older-than', '1h', '--redelivery-horizon', '2h');
    expect(shortWindow.code).toBe(2);
    expect(shortWindow.stderr).toContain('--inbox-older-than 1h must be longer than --redelivery-horizon 2h');

    const unreachable = await onceflow('status', '--database-url', 'postgres://nobody@127.0.0.1:1/none');
    expect(unreachable.code).toBe(1);
  });
});

describe('onceflow with a DATABASE_URL that is not a PostgreSQL, MySQL or MariaDB URL', () => {
  it('exits 2 naming what is wrong, without quoting the URL', async () => {
    const cases: Array<[string, RegExp]> = [
      ['', /is empty/],
      ['not a url', /is not a URL/],
      ['http://root:Secret-Pw@127.0.0.1/x', /starts with "http:\/\/"/],
      ['mysql://root:Secret-Pw@127.0.0.1/x/y', /at most one database name/],
    ];
    for (const [url, problem] of cases) {
      const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(process.execPath, [BIN, 'status'], { env: { ...process.env, DATABASE_URL: url } }, (error, _stdout, stderr) => {
          resolve({ code: error === null ? 0 : Number(error.code), stderr });
        });
      });
      expect(result.code, url).toBe(2);
      expect(result.stderr).toMatch(problem);
      expect(result.stderr).not.toContain('Secret-Pw');
    }
  });
});

describe('onceflow with a server that is not the URL says, or a schema that is no database name', () => {
  it('exits with one line naming the server, the URL scheme it needs, or the schema, never the password', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      // PostgreSQL never sends the greeting a MySQL client waits for: reported after the connect timeout.
      [['--database-url', 'mysql://root:Secret-Pw@127.0.0.1:5432/x'], 1, /server at 127\.0\.0\.1:5432 did not answer as MySQL or MariaDB/],
      [['--database-url', 'postgres://postgres:Secret-Pw@127.0.0.1:3306/x'], 1, /server at 127\.0\.0\.1:3306 did not answer as PostgreSQL/],
      [
        ['--database-url', 'mariadb://root:Secret-Pw@127.0.0.1:1/x'],
        1,
        /cannot reach the database server at 127\.0\.0\.1:1 \(ECONNREFUSED\)/,
      ],
      [
        ['--database-url', 'mysql://root:Secret-Pw@127.0.0.1:3306/x', '--schema', 'Orders-DB'],
        2,
        /Invalid option schema: expected the MySQL\/MariaDB database .*received "Orders-DB"/,
      ],
    ];
    await Promise.all(
      cases.map(async ([flags, code, problem]) => {
        const result = await onceflow('migrate', '--status', ...flags);
        expect(result.code, flags.join(' ')).toBe(code);
        expect(result.stderr.split('\n')[0]).toMatch(problem);
        expect(result.stderr).not.toContain('Secret-Pw');
        if (code === 1) expect(result.stderr.trim().split('\n')).toHaveLength(1);
      }),
    );
  });
});

describe('onceflow --version and bare subcommands', () => {
  it('prints the version of @onceflow/relay, and asks for a subcommand where one is missing', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../packages/relay/package.json', import.meta.url), 'utf8')) as { version: string };
    const printed = await onceflow('--version');
    expect(printed).toMatchObject({ code: 0, stdout: `onceflow ${version}\n` });
    const dead = await onceflow('dead');
    expect(dead.code).toBe(2);
    expect(dead.stderr).toContain('dead needs a subcommand: list, show, retry or purge');
    const letters = await onceflow('dead-letters');
    expect(letters.code).toBe(2);
    expect(letters.stderr).toContain('dead-letters needs a subcommand');
  });
});
