import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { Logger } from '@onceflow/core';
import { intOption, OptionError, silentLogger } from '@onceflow/core';
import { relayLiveness, relayReadiness } from './health.ts';
import type { Relay } from './relay.ts';

/** What `/metrics` serves: a Prometheus text exposition and its content type. */
export type MetricsSource = () => Promise<{ contentType: string; body: string }>;

/** Options of {@link startRelayHttpServer}. */
export interface RelayHttpServerOptions {
  /** The relay to report on. */
  relay: Relay;
  /** TCP port; 0 picks a free one (see {@link RelayHttpServer.port}). */
  port: number;
  /** Interface to listen on. @defaultValue "0.0.0.0" (reachable by a scraper or a load balancer) */
  host?: string;
  /** Serves `/metrics` (e.g. `relayMetricsSource()` of @onceflow/metrics). @defaultValue none: `/metrics` answers 404 */
  metrics?: MetricsSource;
  /** Longest wait for the database and the broker in `/readyz`. @defaultValue 2000 */
  checkTimeoutMs?: number;
  /** @defaultValue silent */
  logger?: Logger;
}

/** A running health and metrics endpoint. */
export interface RelayHttpServer {
  /** The port it listens on (the one picked when `port` was 0). */
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json; charset=utf-8'): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * Serves a relay's `/healthz` (liveness: 200 while its loops run, 503 otherwise), `/readyz`
 * (readiness: 200 when the database answers, the broker answers and it holds or can take shard
 * leases; 503 with each check's finding otherwise) and `/metrics`, with JSON bodies that say why.
 * `onceflow relay --http-port N` runs it beside the relay.
 */
export async function startRelayHttpServer(options: RelayHttpServerOptions): Promise<RelayHttpServer> {
  const port = intOption('port', options.port, 0, 0, 65_535);
  const host = options.host ?? '0.0.0.0';
  if (typeof host !== 'string' || host === '') throw new OptionError('host', host, 'an interface address such as 0.0.0.0');
  const checkTimeoutMs = intOption('checkTimeoutMs', options.checkTimeoutMs, 2_000, 1, 60_000);
  const { relay, metrics } = options;
  const logger = options.logger ?? silentLogger;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'use GET' });
    if (path === '/healthz') {
      const live = relayLiveness(relay);
      return send(res, live.alive ? 200 : 503, { status: live.alive ? 'ok' : 'down', ...live });
    }
    if (path === '/readyz') {
      const ready = await relayReadiness(relay, checkTimeoutMs);
      return send(res, ready.ready ? 200 : 503, { status: ready.ready ? 'ready' : 'not ready', ...ready });
    }
    if (path === '/metrics') {
      if (metrics === undefined)
        return send(res, 404, { error: 'no metrics here: install @onceflow/metrics (and prom-client) to serve them' });
      const { contentType, body } = await metrics();
      return send(res, 200, body, contentType);
    }
    return send(res, 404, { error: `no such path: ${path}; try /healthz, /readyz or /metrics` });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ error }, 'Health endpoint failed');
      if (!res.headersSent) send(res, 500, { error: error instanceof Error ? error.message : String(error) });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  logger.info({ host, port: bound }, 'Serving /healthz, /readyz and /metrics');
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
