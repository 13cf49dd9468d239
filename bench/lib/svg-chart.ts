/**
 * A hand-written SVG chart of a bench run (no dependency): horizontal bars of changes/s for
 * every consumer (wal2nats variants, the ceilings, the baseline), and grouped bars of the
 * steady scenario's latency percentiles per write rate.
 */

export interface Bar {
  label: string;
  value: number;
  /** wal2nats, ceiling, baseline: picks the colour. */
  kind: 'wal2nats' | 'ceiling' | 'baseline';
  failed?: boolean;
}

export interface LatencyGroup {
  label: string;
  p50: number;
  p95: number;
  p99: number;
  keptUp: boolean;
}

const COLOURS = { wal2nats: '#2f6fb2', ceiling: '#9aa5b1', baseline: '#d9822b' } as const;
const PCT_COLOURS = ['#7fb3e0', '#2f6fb2', '#123d6a'] as const;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const num = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : '-';

export function renderChart(title: string, bars: readonly Bar[], latency: readonly LatencyGroup[]): string {
  const width = 900;
  const labelW = 300;
  const barH = 22;
  const gap = 6;
  const plotW = width - labelW - 120;
  const out: string[] = [];
  let y = 40;
  out.push(`<text x="20" y="26" font-size="16" font-weight="bold">${esc(title)}</text>`);
  if (bars.length > 0) {
    out.push(
      `<text x="20" y="${y + 14}" font-size="13" font-weight="bold">changes/s (higher is better)</text>`,
    );
    y += 24;
    const max = Math.max(1, ...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)));
    for (const b of bars) {
      const w = Number.isFinite(b.value) ? (b.value / max) * plotW : 0;
      out.push(
        `<text x="${labelW - 8}" y="${y + barH * 0.7}" font-size="12" text-anchor="end">${esc(b.label)}</text>`,
      );
      out.push(
        `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLOURS[b.kind]}"${b.failed ? ' fill-opacity="0.35"' : ''}/>`,
      );
      out.push(
        `<text x="${labelW + w + 6}" y="${y + barH * 0.7}" font-size="12">${num(b.value)}${b.failed ? ' (FAILED)' : ''}</text>`,
      );
      y += barH + gap;
    }
    y += 10;
    const legend = (Object.keys(COLOURS) as Array<keyof typeof COLOURS>).map(
      (k, i) =>
        `<rect x="${labelW + i * 130}" y="${y}" width="12" height="12" fill="${COLOURS[k]}"/><text x="${labelW + i * 130 + 18}" y="${y + 11}" font-size="12">${k}</text>`,
    );
    out.push(...legend);
    y += 30;
  }
  if (latency.length > 0) {
    out.push(
      `<text x="20" y="${y + 14}" font-size="13" font-weight="bold">steady: latency commit → subscriber, ms, log scale from 1 ms (lower is better)</text>`,
    );
    y += 24;
    // Log scale: a few milliseconds and many seconds (a rate that was not kept up) on one axis.
    const max = Math.max(10, ...latency.map((g) => (Number.isFinite(g.p99) ? g.p99 : 0)));
    const scale = (v: number) =>
      Number.isFinite(v) && v > 1 ? (Math.log10(v) / Math.log10(max)) * plotW : 0;
    for (const g of latency) {
      const values = [g.p50, g.p95, g.p99];
      out.push(
        `<text x="${labelW - 8}" y="${y + 3 * 14 * 0.6}" font-size="12" text-anchor="end">${esc(g.label)}${g.keptUp ? '' : ' (fell behind)'}</text>`,
      );
      values.forEach((v, i) => {
        const w = scale(v);
        out.push(
          `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="12" fill="${PCT_COLOURS[i]}"/>`,
        );
        out.push(
          `<text x="${labelW + w + 6}" y="${y + 10}" font-size="11">p${[50, 95, 99][i]} ${num(v, 1)}</text>`,
        );
        y += 14;
      });
      y += 10;
    }
  }
  const height = y + 20;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n` +
    `<rect width="100%" height="100%" fill="white"/>\n${out.join('\n')}\n</svg>\n`
  );
}
