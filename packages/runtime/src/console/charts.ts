/** The small SVG charts of the KPI cards, with a hover cursor and tooltip. */
import { $, svg } from './dom.js';

export interface Series {
  readonly label?: string;
  readonly values: readonly (number | null)[];
}

interface Drawn {
  readonly times: readonly number[];
  readonly series: readonly Series[];
  readonly format: (value: number | null) => string;
  readonly cursor: SVGLineElement;
}

const W = 300;
const H = 56;
const drawn = new WeakMap<Element, Drawn>();

export function drawChart(
  id: string,
  times: readonly number[],
  series: readonly Series[],
  format: (value: number | null) => string,
): void {
  const el = $<SVGSVGElement>(`c-${id}`);
  el.setAttribute('viewBox', `0 0 ${W} ${H}`);
  el.setAttribute('preserveAspectRatio', 'none');
  while (el.firstChild) el.removeChild(el.firstChild);
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && isFinite(v) && v > max) max = v;
  if (max <= 0) max = 1;
  const n = times.length;
  const x = (i: number): number => (n <= 1 ? W : (i / (n - 1)) * W);
  const y = (v: number): number => H - 1 - (v / max) * (H - 6);
  const gradId = `g-${id}`;
  const defs = svg('defs');
  const grad = svg('linearGradient', { id: gradId, x1: 0, y1: 0, x2: 0, y2: 1 });
  grad.appendChild(svg('stop', { offset: '0%', 'stop-opacity': 0.35 }));
  grad.appendChild(svg('stop', { offset: '100%', 'stop-opacity': 0 }));
  defs.appendChild(grad);
  el.appendChild(defs);
  el.appendChild(svg('line', { class: 'base', x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5 }));
  series.forEach((s, index) => {
    let d = '';
    let area = '';
    let start = -1;
    s.values.forEach((v, i) => {
      if (v === null || !isFinite(v)) {
        if (start >= 0 && index === 0) area += `L${x(i - 1).toFixed(1)} ${H}L${x(start).toFixed(1)} ${H}Z`;
        start = -1;
        return;
      }
      const cmd = start < 0 ? 'M' : 'L';
      if (start < 0) start = i;
      d += `${cmd}${x(i).toFixed(1)} ${y(v).toFixed(1)}`;
      if (index === 0) area += `${cmd}${x(i).toFixed(1)} ${y(v).toFixed(1)}`;
    });
    if (start >= 0 && index === 0) area += `L${x(n - 1).toFixed(1)} ${H}L${x(start).toFixed(1)} ${H}Z`;
    if (index === 0 && area) el.appendChild(svg('path', { class: 'area', d: area, fill: `url(#${gradId})` }));
    if (d) el.appendChild(svg('path', { class: index === 0 ? 'line' : 'line second', d }));
  });
  const cursor = svg('line', { class: 'cursor', x1: 0, x2: 0, y1: 0, y2: H, visibility: 'hidden' });
  el.appendChild(cursor);
  drawn.set(el, { times, series, format, cursor });
}

export function hookChart(id: string): void {
  const el = $<SVGSVGElement>(`c-${id}`);
  const tip = $(`t-${id}`);
  el.addEventListener('mousemove', (event) => {
    const c = drawn.get(el);
    if (!c || c.times.length === 0) return;
    const rect = el.getBoundingClientRect();
    const n = c.times.length;
    const i = Math.max(0, Math.min(n - 1, Math.round(((event.clientX - rect.left) / rect.width) * (n - 1))));
    const px = n <= 1 ? rect.width : (i / (n - 1)) * rect.width;
    const vx = String(n <= 1 ? W : (i / (n - 1)) * W);
    c.cursor.setAttribute('x1', vx);
    c.cursor.setAttribute('x2', vx);
    c.cursor.setAttribute('visibility', 'visible');
    const parts = c.series.map((s) => (s.label ? `${s.label} ` : '') + c.format(s.values[i] ?? null));
    tip.textContent = `${new Date(c.times[i]!).toLocaleTimeString('en-GB', { hour12: false })}  ${parts.join(' · ')}`;
    tip.style.left = `${Math.max(40, Math.min(rect.width - 40, px))}px`;
    tip.classList.add('show');
  });
  el.addEventListener('mouseleave', () => {
    tip.classList.remove('show');
    drawn.get(el)?.cursor.setAttribute('visibility', 'hidden');
  });
}
