import { execFileSync } from 'node:child_process';
import { runCommand } from './kafka-control.ts';

/**
 * Stops and starts the PostgreSQL server a run uses, for real (not only its sessions): the local
 * Debian cluster listening on DATABASE_URL's port, through `pg_ctlcluster`, or the command in
 * `CHAOS_PG_CONTROL` (called with `stop` or `start` appended).
 */
export class PgControl {
  readonly #command: string;
  readonly #root: string;
  #down = false;

  private constructor(command: string, root: string) {
    this.#command = command;
    this.#root = root;
  }

  /** The control for the server of `serverUrl`; throws, naming what is missing, when it cannot be restarted from here. */
  static for(serverUrl: string, root: string): PgControl {
    const custom = process.env.CHAOS_PG_CONTROL;
    if (custom !== undefined && custom !== '') return new PgControl(custom, root);
    const url = new URL(serverUrl);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = url.port === '' ? '5432' : url.port;
    if (!['127.0.0.1', 'localhost', '::1', ''].includes(host)) {
      throw new Error(
        `the profile restarts PostgreSQL, but DATABASE_URL names ${host}, not a server on this machine: set CHAOS_PG_CONTROL to a command that takes stop|start`,
      );
    }
    let clusters: string;
    try {
      clusters = execFileSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' });
    } catch (error) {
      throw new Error(
        'the profile restarts PostgreSQL, but pg_lsclusters failed: set CHAOS_PG_CONTROL to a command that takes stop|start',
        {
          cause: error,
        },
      );
    }
    // "15  main  5432 online postgres /var/lib/postgresql/15/main ..."
    const match = clusters
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .find((fields) => fields[2] === port);
    if (match === undefined) {
      throw new Error(
        `the profile restarts PostgreSQL, but no local cluster listens on port ${port} (pg_lsclusters): set CHAOS_PG_CONTROL`,
      );
    }
    const [version, name] = match as [string, string];
    return new PgControl(`pg_ctlcluster --skip-systemctl-redirect ${version} ${name}`, root);
  }

  /** The command to which `stop -m fast` or `start` is appended. */
  get command(): string {
    return this.#command;
  }

  /** True while this control stopped the server and has not started it again. */
  get down(): boolean {
    return this.#down;
  }

  /** Fast shutdown: sessions are terminated, open transactions roll back, the server exits. */
  async stop(): Promise<void> {
    this.#down = true;
    await runCommand(this.#command, this.#command.startsWith('pg_ctlcluster ') ? 'stop -m fast' : 'stop', this.#root);
  }

  /** Starts the server; pg_ctlcluster returns once it accepts connections. */
  async start(): Promise<void> {
    await runCommand(this.#command, 'start', this.#root);
    this.#down = false;
  }
}
