import { waitFor } from '../harness/index.js';

/** Reads one metric value from a running wal2nats's /metrics (sums the series that match). */
export async function metricValue(
  httpBase: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const response = await fetch(`${httpBase}/metrics`);
  const text = await response.text();
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labelText = match[2] ?? '';
    if (!Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) continue;
    sum += Number(match[3]);
    found = true;
  }
  if (!found) return Number.NaN;
  return sum;
}

/**
 * Waits until a metric reaches `expected` (threads report on their own schedule, e.g. one shard
 * connects to NATS after another), then returns it.
 */
export async function metricReaches(
  httpBase: string,
  name: string,
  expected: number,
  labels: Record<string, string> = {},
  timeoutMs = 15_000,
): Promise<number> {
  return waitFor(
    async () => ((await metricValue(httpBase, name, labels)) === expected ? expected : undefined),
    { what: `${name} = ${expected}`, timeoutMs, intervalMs: 50 },
  );
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  type: string;
  help: string;
  readonly samples: Sample[];
}

/**
 * Parses a whole Prometheus text exposition (format 0.0.4) strictly: every line must be a
 * comment, HELP, TYPE or a sample of the family declared before it, no family twice, no series
 * twice. Throws on the first problem, naming the line.
 */
export function parseMetricsText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  let current: MetricFamily | null = null;
  const familyOf = (sample: string): string | undefined => {
    if (
      current &&
      (sample === current.name ||
        (['histogram', 'summary'].includes(current.type) &&
          [`${current.name}_bucket`, `${current.name}_sum`, `${current.name}_count`].includes(sample)))
    )
      return current.name;
    return undefined;
  };
  text.split('\n').forEach((line, index) => {
    const where = `line ${index + 1}: ${line}`;
    if (line === '') return;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      let family = families.get(name);
      if (!family) {
        family = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, family);
      } else if (family !== current) throw new Error(`family ${name} appears twice (${where})`);
      current = family;
      if (kind === 'HELP') family.help = rest;
      else {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest))
          throw new Error(`unknown type (${where})`);
        family.type = rest;
      }
      return;
    }
    if (line.startsWith('#')) return;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!match) throw new Error(`not a sample (${where})`);
    const [, name, labelText, valueText] = match as unknown as [string, string, string | undefined, string];
    const familyName = familyOf(name);
    if (!familyName) throw new Error(`sample outside its family's block (${where})`);
    const labels: Record<string, string> = {};
    if (labelText) {
      const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
      let consumed = 0;
      for (const m of labelText.matchAll(labelPattern)) {
        labels[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        consumed += m[0].length;
      }
      if (consumed !== labelText.length) throw new Error(`bad labels (${where})`);
    }
    const value =
      valueText === '+Inf'
        ? Number.POSITIVE_INFINITY
        : valueText === '-Inf'
          ? Number.NEGATIVE_INFINITY
          : Number(valueText);
    // Prometheus parses values with Go's ParseFloat, which takes NaN in any case (prom-client writes "Nan").
    if (Number.isNaN(value) && !/^nan$/i.test(valueText)) throw new Error(`bad value (${where})`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`series twice (${where})`);
    seen.add(key);
    families.get(familyName)!.samples.push({ name, labels, value });
  });
  return families;
}

/** Fetches and parses a running wal2nats's /metrics. */
export async function scrape(httpBase: string): Promise<Map<string, MetricFamily>> {
  const response = await fetch(`${httpBase}/metrics`);
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return parseMetricsText(await response.text());
}

/** The sum of a family's samples named `name` whose labels include `labels`. */
export function sampleSum(
  families: Map<string, MetricFamily>,
  family: string,
  labels: Record<string, string> = {},
  name = family,
): number {
  const samples = families.get(family)?.samples ?? [];
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
