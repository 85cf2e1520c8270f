import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const WORKER = fileURLToPath(new URL('./relay-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A relay running in a child process. */
export interface RelayChild {
  readonly process: ChildProcess;
  readonly relayId: Promise<string>;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
  /** Everything the process wrote to stderr (its JSON log lines). */
  log(): string;
}

/**
 * Starts `node test/support/relay-worker.ts` against `databaseUrl` (PostgreSQL or MySQL) with
 * relay `options`, on the Onceflow `schema` when given (else ONCEFLOW_SCHEMA or "onceflow").
 */
export function spawnRelay(databaseUrl: string, options: Record<string, unknown>, schema?: string): RelayChild {
  const child = spawn(process.execPath, [WORKER], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      RELAY_OPTIONS: JSON.stringify(options),
      NODE_ENV: 'production',
      ...(schema === undefined ? {} : { ONCEFLOW_SCHEMA: schema }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.length > 2_000_000) stderr = stderr.slice(-1_000_000);
  });
  const relayId = new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /ready (\S+)/.exec(stdout);
      if (match) resolve(match[1] as string);
    });
    child.on('exit', (code, signal) => reject(new Error(`relay exited before ready (${code ?? signal}): ${stderr.slice(-2_000)}`)));
  });
  relayId.catch(() => undefined);
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { process: child, relayId, exited, log: () => stderr };
}

/**
 * Runs the project's broker script (`scripts/kafka.sh stop|start`, or ONCEFLOW_KAFKA_SCRIPT),
 * as the fault tests stop and restart the real broker.
 */
export async function kafkaControl(action: 'start' | 'stop' | 'status'): Promise<string> {
  const script = process.env.ONCEFLOW_KAFKA_SCRIPT ?? 'scripts/kafka.sh';
  const { stdout, stderr } = await promisify(execFile)('bash', [script, action], { cwd: ROOT, timeout: 120_000 });
  return `${stdout}${stderr}`;
}
