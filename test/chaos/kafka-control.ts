import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { defaultBrokers } from '@onceflow/kafka';

/**
 * Stops and starts the Kafka broker the run uses: the project's `scripts/kafka.sh stop|start`
 * for the local broker it manages, or, for a broker named by KAFKA_BROKERS, the command in
 * `CHAOS_KAFKA_CONTROL` (called with `stop` or `start` appended).
 */
export class KafkaControl {
  readonly #root: string;
  readonly #host: string;
  readonly #port: number;
  #down = false;

  constructor(root: string) {
    this.#root = root;
    const [host, port] = (defaultBrokers()[0] ?? '127.0.0.1:9092').split(':');
    this.#host = host ?? '127.0.0.1';
    this.#port = Number(port ?? 9092);
  }

  /** The command (to which `stop` or `start` is appended); throws when the broker cannot be restarted. */
  command(): string {
    const custom = process.env.CHAOS_KAFKA_CONTROL;
    if (custom !== undefined && custom !== '') return custom;
    if (process.env.KAFKA_BROKERS) {
      throw new Error(
        `KAFKA_BROKERS is set (${process.env.KAFKA_BROKERS}): scripts/kafka.sh does not restart a broker it does not manage. ` +
          'Unset KAFKA_BROKERS to use the local broker, or set CHAOS_KAFKA_CONTROL to a command that takes stop|start for yours.',
      );
    }
    return `bash ${JSON.stringify(join(this.#root, 'scripts', 'kafka.sh'))}`;
  }

  /** True while this control stopped the broker and has not started it again. */
  get down(): boolean {
    return this.#down;
  }

  async stop(): Promise<void> {
    this.#down = true;
    await runCommand(this.command(), 'stop', this.#root);
    const deadline = Date.now() + 30_000;
    while (await portOpen(this.#host, this.#port)) {
      if (Date.now() > deadline) throw new Error(`Kafka at ${this.#host}:${this.#port} still accepts connections after \`stop\``);
      await sleep(250);
    }
  }

  async start(): Promise<void> {
    await runCommand(this.command(), 'start', this.#root);
    const deadline = Date.now() + 120_000;
    while (!(await portOpen(this.#host, this.#port))) {
      if (Date.now() > deadline) throw new Error(`Kafka at ${this.#host}:${this.#port} is not up 120 s after \`start\``);
      await sleep(250);
    }
    this.#down = false;
  }
}

/** Runs `<command> <verb>` in bash; rejects with the end of its output when it fails. */
export function runCommand(command: string, verb: string, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${command} ${verb}`], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-4_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`\`${command} ${verb}\` failed with code ${code}: ${output}`));
    });
  });
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
