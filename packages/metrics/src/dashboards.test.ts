import { readFileSync } from 'node:fs';
import knexFactory from 'knex';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MetricNames } from './names.ts';
import { OnceflowMetrics } from './onceflow-metrics.ts';

const DASHBOARD = new URL('../../../deploy/grafana/onceflow-dashboard.json', import.meta.url);
const ALERTS = new URL('../../../deploy/prometheus/onceflow-alerts.yml', import.meta.url);

/** Every `onceflow_*` series a PromQL text names, histogram suffixes reduced to the metric. */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\bonceflow_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

/** Every metric name registered by an OnceflowMetrics with all its sources observed. */
async function registeredNames(): Promise<Set<string>> {
  const registry = new Registry();
  const metrics = new OnceflowMetrics({ registry });
  // Registration only: nothing is queried until a scrape.
  const knex = knexFactory({ client: 'pg', connection: 'postgres://127.0.0.1:1/none' });
  metrics.observeOutbox(knex);
  await knex.destroy();
  return new Set(registry.getMetricsAsArray().map((m) => m.name));
}

describe('the Grafana dashboard and the Prometheus alert rules', () => {
  it('name only metrics Onceflow registers, under those names', async () => {
    const registered = await registeredNames();
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
    const dashboardExprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    const alertExprs = [...readFileSync(ALERTS, 'utf8').matchAll(/^\s*expr:\s*(.+)$/gm)].map((m) => m[1] as string);
    expect(dashboardExprs.length).toBeGreaterThanOrEqual(12);
    expect(alertExprs.length).toBe(5);
    for (const expr of [...dashboardExprs, ...alertExprs]) {
      const names = metricsIn(expr);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) expect(registered, `${name} in ${expr}`).toContain(name);
    }
    // Every metric Onceflow has appears on the dashboard.
    const shown = new Set(dashboardExprs.flatMap(metricsIn));
    for (const name of Object.values(MetricNames)) expect(shown, name).toContain(name);
  });

  it('alert on backlog age, dead messages, a relay without leases and consumer lag', () => {
    const alerts = readFileSync(ALERTS, 'utf8');
    for (const metric of [
      MetricNames.outboxOldestPendingAge,
      MetricNames.outboxDead,
      MetricNames.consumerDeadLetters,
      MetricNames.relayShardsHeld,
      MetricNames.consumerCommitLag,
    ]) {
      expect(alerts).toContain(metric);
    }
  });
});
