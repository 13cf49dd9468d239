/** How the console writes numbers, sizes, durations, times, LSNs and errors. */

const NUMBER = new Intl.NumberFormat('en-US');

export function fmtInt(n: number | null | undefined): string {
  return NUMBER.format(Math.round(n || 0));
}

export function fmtRate(n: number): string {
  if (!isFinite(n) || n <= 0) return '0';
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(n < 1 ? 2 : 1);
}

/** [number, unit], for a KPI that shows them apart. */
export type Parts = [string, string];

export function fmtBytesParts(n: number): Parts {
  if (!isFinite(n) || n <= 0) return ['0', 'B'];
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return [n >= 100 || i === 0 ? n.toFixed(0) : n.toFixed(1), units[i]!];
}

export function fmtBytes(n: number): string {
  const [value, unit] = fmtBytesParts(n);
  return `${value} ${unit}`;
}

export function fmtSecondsParts(s: number | null | undefined): Parts {
  if (s === null || s === undefined || !isFinite(s)) return ['–', ''];
  if (s < 0.001) return [(s * 1e6).toFixed(0), 'µs'];
  if (s < 1) return [(s * 1000).toFixed(s < 0.01 ? 1 : 0), 'ms'];
  if (s < 60) return [s.toFixed(s < 10 ? 2 : 1), 's'];
  if (s < 3600) return [(s / 60).toFixed(1), 'min'];
  return [(s / 3600).toFixed(1), 'h'];
}

export function fmtSeconds(s: number | null | undefined): string {
  const [value, unit] = fmtSecondsParts(s);
  return unit ? `${value} ${unit}` : value;
}

export function fmtSpan(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60 ? `${s % 60} s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function ago(iso: string | null): string {
  if (!iso) return '–';
  const ms = Date.now() - Date.parse(iso);
  if (ms < 1500) return 'just now';
  return `${fmtSpan(ms).trim()} ago`;
}

export function until(iso: string | null): string {
  if (!iso) return 'now';
  const ms = Date.parse(iso) - Date.now();
  if (ms <= 500) return 'now';
  return `in ${fmtSpan(ms).trim()}`;
}

export function clock(iso: string | null): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return `${d.toLocaleTimeString('en-GB', { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** An LSN as Postgres prints it (hex high/low words). */
export function lsnText(n: number): string {
  if (typeof n !== 'number' || !isFinite(n)) return '–';
  const hi = Math.floor(n / 4294967296);
  const lo = n - hi * 4294967296;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

export function shortId(id: string): string {
  const parts = id.split(':');
  return parts.length >= 2 ? parts.slice(-2).join(':') : id;
}

/** What went wrong, for a toast (the browser's twin of core's errorMessage, which it cannot import). */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
