import { withTimeout } from '@onceflow/core';
import type { Relay } from './relay.ts';

/** One readiness check: whether it passed, and what was found. */
export interface HealthCheck {
  readonly ok: boolean;
  readonly detail: string;
}

/** `/healthz`: whether the relay's loops are alive (restart the process when not). */
export interface RelayLiveness {
  readonly alive: boolean;
  readonly state: string;
  readonly detail: string;
}

/** `/readyz`: whether the relay can do its work now, with each check's finding. */
export interface RelayReadiness {
  readonly ready: boolean;
  readonly checks: { readonly database: HealthCheck; readonly publisher: HealthCheck; readonly leases: HealthCheck };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Alive while the relay runs and its lease loop keeps turning (it runs every third of
 * `leaseMs`, whether the database answers or not). A relay that stopped, or whose loop has not
 * run for two lease periods, is not alive.
 */
export function relayLiveness(relay: Relay, now: number = Date.now()): RelayLiveness {
  const state = relay.state;
  if (state !== 'running') return { alive: false, state, detail: `the relay is ${state}` };
  const { attemptedAt } = relay.leaseTicks();
  const limit = 2 * relay.options.leaseMs;
  if (attemptedAt !== null && now - attemptedAt > limit) {
    return { alive: false, state, detail: `the lease loop has not run for ${now - attemptedAt} ms (limit ${limit} ms)` };
  }
  return { alive: true, state, detail: 'the lease loop is running' };
}

/**
 * Ready when the database answers, the publisher reaches its broker (for publishers that offer
 * a check), and the relay holds shard leases or could take some: its last lease round
 * succeeded within two lease periods (a relay holding no shard because others hold them all is
 * a ready standby).
 */
export async function relayReadiness(relay: Relay, timeoutMs = 2_000, now: () => number = Date.now): Promise<RelayReadiness> {
  const { knex, publisher, leaseMs } = relay.options;
  const database = withTimeout(knex.raw('select 1'), timeoutMs, 'the database').then(
    (): HealthCheck => ({ ok: true, detail: 'answered select 1' }),
    (error: unknown): HealthCheck => ({ ok: false, detail: describe(error) }),
  );
  const broker =
    publisher.check === undefined
      ? Promise.resolve<HealthCheck>({ ok: true, detail: 'this publisher offers no check' })
      : withTimeout(publisher.check(), timeoutMs, 'the broker').then(
          (): HealthCheck => ({ ok: true, detail: 'the broker answered' }),
          (error: unknown): HealthCheck => ({ ok: false, detail: describe(error) }),
        );
  const [db, pub] = await Promise.all([database, broker]);
  const leases = leaseCheck(relay, leaseMs, now());
  return { ready: db.ok && pub.ok && leases.ok, checks: { database: db, publisher: pub, leases } };
}

function leaseCheck(relay: Relay, leaseMs: number, now: number): HealthCheck {
  if (relay.state !== 'running') return { ok: false, detail: `the relay is ${relay.state}` };
  const held = relay.stats().shards.length;
  const { succeededAt } = relay.leaseTicks();
  if (succeededAt === null || now - succeededAt > 2 * leaseMs) {
    const since = succeededAt === null ? 'since start' : `for ${now - succeededAt} ms`;
    return { ok: false, detail: `no lease round succeeded ${since}; holds ${held} shard(s) until they expire` };
  }
  return { ok: true, detail: held > 0 ? `holds ${held} shard(s)` : 'holds no shard: other relays hold them all (standby)' };
}
