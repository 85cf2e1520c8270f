import { spawn } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { defaultBrokers } from '@onceflow/kafka';

/**
 * Stops and starts the Kafka broker the run uses. In order of preference:
 * 1. `CHAOS_KAFKA_CONTROL`: a command to which `stop` or `start` is appended (for a broker of
 *    your own, e.g. on another port named by KAFKA_BROKERS);
 * 2. the project's `scripts/kafka.sh stop|start`;
 * 3. the running broker's own command line, read from /proc: SIGTERM it, later start it again
 *    with the same command line, working directory and log file.
 */
export class KafkaControl {
  readonly #root: string;
  readonly #broker: { host: string; port: number };
  #remembered: BrokerProcess | undefined;
  #down = false;

  constructor(root: string) {
    this.#root = root;
    const first = defaultBrokers()[0] ?? '127.0.0.1:9092';
    const [host, port] = first.split(':');
    this.#broker = { host: host ?? '127.0.0.1', port: Number(port ?? 9092) };
  }

  /** How the broker is controlled, for the run's log. */
  describe(): string {
    if (process.env.CHAOS_KAFKA_CONTROL) return `CHAOS_KAFKA_CONTROL (${process.env.CHAOS_KAFKA_CONTROL})`;
    if (existsSync(this.#script())) return 'scripts/kafka.sh';
    return `the broker process on port ${this.#broker.port} (from /proc)`;
  }

  /** True while this control stopped the broker and has not started it again. */
  get down(): boolean {
    return this.#down;
  }

  async stop(): Promise<void> {
    this.#down = true;
    const command = this.#command();
    if (command !== undefined) {
      await run(command, 'stop', this.#root);
    } else {
      const found = findBrokerProcess(this.#broker.port);
      if (found === undefined) throw new Error(`no Kafka broker process listening on port ${this.#broker.port} found in /proc`);
      this.#remembered = found;
      process.kill(found.pid, 'SIGTERM');
      const deadline = Date.now() + 60_000;
      while (isAlive(found.pid)) {
        if (Date.now() > deadline) process.kill(found.pid, 'SIGKILL');
        await sleep(200);
      }
    }
  }

  async start(): Promise<void> {
    const command = this.#command();
    if (command !== undefined) {
      await run(command, 'start', this.#root);
    } else {
      const r = this.#remembered;
      if (r === undefined) throw new Error('the broker was not stopped by this control, so its command line is unknown');
      const out = openSync(r.logFile, 'a');
      const [cmd, ...args] = r.argv;
      const child = spawn(cmd as string, args, { cwd: r.cwd, detached: true, stdio: ['ignore', out, out] });
      child.unref();
      if (r.pidFile !== undefined && child.pid !== undefined) writeFileSync(r.pidFile, `${child.pid}\n`);
    }
    await this.waitUntilUp(120_000);
    this.#down = false;
  }

  /** Resolves once the broker port accepts connections. */
  async waitUntilUp(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await portOpen(this.#broker.host, this.#broker.port))) {
      if (Date.now() > deadline) throw new Error(`Kafka at ${this.#broker.host}:${this.#broker.port} is not up after ${timeoutMs} ms`);
      await sleep(250);
    }
  }

  #script(): string {
    return join(this.#root, 'scripts', 'kafka.sh');
  }

  #command(): string | undefined {
    if (process.env.CHAOS_KAFKA_CONTROL) return process.env.CHAOS_KAFKA_CONTROL;
    if (existsSync(this.#script())) return `bash ${JSON.stringify(this.#script())}`;
    return undefined;
  }
}

function run(command: string, verb: string, cwd: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', ['-c', `${command} ${verb}`], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`\`${command} ${verb}\` failed with code ${code}: ${output.slice(-2_000)}`));
    });
  });
}

interface BrokerProcess {
  pid: number;
  argv: string[];
  cwd: string;
  /** The start script's pid file naming this process, kept up to date across restarts. */
  pidFile: string | undefined;
  logFile: string;
}

/** The java process running `kafka.Kafka` whose properties listen on `port`. */
function findBrokerProcess(port: number): BrokerProcess | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
        .split('\0')
        .filter((a) => a !== '');
      const main = argv.indexOf('kafka.Kafka');
      if (main < 0) continue;
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      const properties = resolve(cwd, argv[main + 1] ?? '');
      const text = readFileSync(properties, 'utf8');
      if (!new RegExp(`^listeners=.*:${port}\\b`, 'm').test(text)) continue;
      // The start script's layout: <home>/config/server.properties, <home>/kafka.pid, <home>/logs.
      const home = dirname(dirname(properties));
      const pidFile = join(home, 'kafka.pid');
      return {
        pid: Number(entry),
        argv,
        cwd,
        pidFile: existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() === entry ? pidFile : undefined,
        logFile: existsSync(join(home, 'logs')) ? join(home, 'logs', 'server.out') : join(tmpdir(), 'onceflow-chaos-kafka.out'),
      };
    } catch {
      // The process went away or is not readable: not ours.
    }
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolvePromise(false);
    });
    socket.once('error', () => resolvePromise(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
