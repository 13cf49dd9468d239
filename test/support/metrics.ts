/** Reads one metric value from a running wal2nats's /metrics (sums the series that match). */
export async function metricValue(httpBase: string, name: string, labels: Record<string, string> = {}): Promise<number> {
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
