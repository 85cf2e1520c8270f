import { migrate, silentLogger } from '@onceflow/core';
import { KafkaPublisher } from '@onceflow/kafka';
import type { RelayProcess } from '@onceflow/relay';
import { runRelayProcess } from '@onceflow/relay';
import type { TestDatabase } from './database.ts';
import { testKafka } from './kafka.ts';

/** GETs `path` from a relay process's endpoint; resolves with the status and the parsed or raw body. */
export async function get(proc: RelayProcess, path: string): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
  const response = await fetch(`http://127.0.0.1:${proc.http?.port}${path}`);
  const text = await response.text();
  let json: Record<string, unknown> = {};
  if ((response.headers.get('content-type') ?? '').startsWith('application/json')) json = JSON.parse(text);
  return { status: response.status, json, text };
}

/** A relay process on `db` with its health and metrics endpoint on a free port, short timings. */
export async function relayWithEndpoint(db: TestDatabase, schema: string): Promise<RelayProcess> {
  await migrate(db.knex, { schema });
  return runRelayProcess({
    publisher: new KafkaPublisher(testKafka('onceflow-relay-http')),
    databaseUrl: db.url,
    schema,
    logger: silentLogger,
    exit: () => undefined,
    http: { port: 0, host: '127.0.0.1' },
    relay: { leaseMs: 1_500, concurrency: 1 },
  });
}
