import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LogFields, Logger } from '@onceflow/core';
import { migrate } from '@onceflow/core';
import { createKafka, KafkaPublisher } from '@onceflow/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { waitFor } from './support/wait.ts';

const BIN = fileURLToPath(new URL('../packages/relay/src/cli/bin.ts', import.meta.url));
const DB_SECRET = 'Db-S3cret-Passw0rd';
const SASL_SECRET = 'Kafka-S3cret-Passw0rd';
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(2);
});
afterAll(async () => {
  await db?.drop();
});

/** The test database's URL with a password in it (the server trusts local connections, so any password works). */
function urlWithPassword(): string {
  const url = new URL(db.url);
  url.password = DB_SECRET;
  return url.toString();
}

/** Runs the CLI until it exits (or until `stopWhen` sees its output, then SIGTERM); resolves with all it printed. */
function runCli(args: string[], env: Record<string, string>, stopWhen?: (output: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let output = '';
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      if (stopWhen?.(output)) child.kill('SIGTERM');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('exit', () => resolve(output));
  });
}

/** A logger that keeps every line it is given, as JSON text. */
function capturingLogger(lines: string[], bound: LogFields = {}): Logger {
  const write = (level: string) => (fields: LogFields, message: string) => {
    lines.push(
      JSON.stringify({ level, ...bound, ...fields, message }, (_k, v) =>
        v instanceof Error ? { message: v.message, cause: String(v.cause) } : v,
      ),
    );
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (scope) => capturingLogger(lines, { ...bound, ...scope }),
  };
}

describe('secrets never reach logs or errors', () => {
  it('a relay process and failing commands with a password in DATABASE_URL print it nowhere', async () => {
    const schema = uniqueName('sec');
    await migrate(db.knex, { schema });
    const relayOutput = await runCli(['relay', '--schema', schema, '--http-port', '0'], { DATABASE_URL: urlWithPassword() }, (out) =>
      out.includes('Relay started'),
    );
    expect(relayOutput).toContain('Relay started');
    const unreachable = new URL(urlWithPassword());
    unreachable.port = '1';
    const failed = await runCli(['status', '--schema', schema], { DATABASE_URL: unreachable.toString() });
    expect(failed).toContain('onceflow:');
    const wrongDatabase = new URL(urlWithPassword());
    wrongDatabase.pathname = '/no_such_database';
    const missing = await runCli(['migrate'], { DATABASE_URL: wrongDatabase.toString() });
    expect(missing).toContain('no_such_database');
    for (const output of [relayOutput, failed, missing]) expect(output).not.toContain(DB_SECRET);
  });

  it('a publisher with SASL options logs and throws without the password, and the default logger redacts secret fields', async () => {
    const lines: string[] = [];
    const kafka = createKafka({
      clientId: 'secrets-test',
      // The test broker speaks no SASL: the handshake fails, and kafkajs logs and throws.
      sasl: { mechanism: 'plain', username: 'onceflow', password: SASL_SECRET },
      retries: 0,
      logger: capturingLogger(lines),
    });
    const error = await new KafkaPublisher(kafka, { retries: 1 }).connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    await waitFor('kafkajs to log the failure', () => lines.length > 0, 10_000);
    expect(JSON.stringify({ message: (error as Error).message, cause: String((error as Error).cause) })).not.toContain(SASL_SECRET);
    for (const line of lines) expect(line).not.toContain(SASL_SECRET);

    // The default (pino) logger, given secret-bearing fields by a careless caller.
    const script = `
      import { createJsonLogger } from '@onceflow/core';
      createJsonLogger('info').child({ component: 'x' }).info(
        { databaseUrl: 'postgres://u:${DB_SECRET}@h/db', sasl: { password: '${SASL_SECRET}' }, config: { password: '${SASL_SECRET}' } },
        'configured',
      );`;
    const stderr = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('.', import.meta.url)) });
      let text = '';
      child.stderr.on('data', (c: Buffer) => {
        text += c.toString();
      });
      child.on('exit', () => resolve(text));
    });
    const line = JSON.parse(stderr.trim());
    expect(line).toMatchObject({ level: 'info', component: 'x', msg: 'configured', databaseUrl: '[redacted]', sasl: '[redacted]' });
    expect(line.config.password).toBe('[redacted]');
    expect(stderr).not.toContain(DB_SECRET);
    expect(stderr).not.toContain(SASL_SECRET);
  });
});
