import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** One sample of a parsed exposition: its labels and value. */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A Prometheus text exposition parsed by a real text-format parser, by metric family name. */
export function parseExposition(text: string): Map<string, { type: string; samples: Sample[] }> {
  const families = new Map<string, { type: string; samples: Sample[] }>();
  for (const family of parsePrometheusTextFormat(text)) {
    const samples: Sample[] = [];
    for (const m of family.metrics) {
      // Counters and gauges carry `value`; histograms `count` and `sum` (their buckets are not needed here).
      const value = m.value ?? m.count;
      samples.push({ labels: m.labels ?? {}, value: Number(value) });
    }
    families.set(family.name, { type: family.type, samples });
  }
  return families;
}

/** The value of `name`'s sample whose labels include `labels`; 0 when there is none. */
export function sampleValue(families: ReturnType<typeof parseExposition>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  const match = family?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return match?.value ?? 0;
}
