/** The header, the banner, the KPI cards with their charts, the tables and the pipeline panel. */
import type { MessageState } from '../messages/message-view.js';
import type { OverviewPoint } from '../http/overview.js';
import { drawChart } from './charts.js';
import { $, h, replace, type Child } from './dom.js';
import { fmtBytes, fmtBytesParts, fmtInt, fmtRate, fmtSeconds, fmtSecondsParts, fmtSpan } from './format.js';
import { state, type ConsoleOverview } from './state.js';

/** What a click in the overview changes in the messages view. */
export interface Navigation {
  selectTab(tab: MessageState, byUser: boolean): void;
  setTableFilter(table: string): void;
}

interface Badge {
  readonly kind: 'ok' | 'bad' | 'warn';
  readonly text: string;
}

function setKpi(
  id: string,
  value: string,
  unit: string,
  sub: string,
  badge: Badge | null,
  alert: boolean,
): void {
  $(`v-${id}`).textContent = value;
  $(`u-${id}`).textContent = unit;
  $(`s-${id}`).textContent = sub || '\u00a0';
  const b = $(`b-${id}`);
  b.textContent = badge ? badge.text : '';
  b.className = `kpi-badge${badge ? ` ${badge.kind}` : ''}`;
  $(`kpi-${id}`).classList.toggle('alert', alert);
}

export function renderOverview(o: ConsoleOverview, nav: Navigation): void {
  const { source: src, sink, totals: t } = o;
  replace(
    $('route'),
    h('b', { text: src.database || '?' }),
    ' · slot ',
    h('b', { text: src.slot }),
    h('span', { class: 'arrow', text: '→' }),
    h('b', { text: sink.servers.join(', ') || 'NATS' }),
    sink.jetstream ? ' (JetStream)' : '',
  );
  const ready = $('ready');
  ready.textContent = o.ready ? 'Ready' : 'Not ready';
  ready.className = `ready pill ${o.ready ? 'ok' : 'bad'}`;
  ready.title = o.ready ? 'The slot streams and every shard is connected to NATS' : o.reasons.join('\n');
  // High availability: which process streams from the slot.
  const r = o.role;
  const role = $('role');
  role.textContent =
    r.role === 'active'
      ? 'Active'
      : r.role === 'standby'
        ? `Standby · active: ${r.active_host ? `${r.active_host} pid ${r.active_pid}` : 'not wal2nats'}`
        : 'Starting';
  role.title =
    (r.role === 'standby'
      ? 'Waits to take over the slot'
      : r.role === 'active'
        ? 'Streams from the slot'
        : 'Not streaming yet') + (r.since ? ` since ${r.since}` : '');
  const banner = $('banner');
  if (!o.ready) {
    replace(
      banner,
      h('b', { text: 'Not ready' }),
      o.reasons.length === 1
        ? o.reasons[0]
        : h(
            'ul',
            null,
            o.reasons.map((r) => h('li', { text: r })),
          ),
    );
    banner.className = 'banner bad';
  } else if (t.failing_tables > 0) {
    replace(
      banner,
      h('b', {
        text: t.failing_tables === 1 ? '1 table is failing' : `${t.failing_tables} tables are failing`,
      }),
      'Its later changes wait behind the failing message and the slot cannot be confirmed past it (Postgres keeps the WAL); other tables keep flowing. See the Failing tab.',
    );
    banner.className = 'banner';
  } else {
    banner.className = 'banner hidden';
  }
  $('exposed-banner').classList.toggle('hidden', !o.http.exposed_without_token);
  document.title = `${t.failing_tables > 0 ? `(${t.failing_tables} failing) ` : ''}wal2nats · ${src.database || ''}`;

  const hist = o.history;
  const times = hist.map((p) => p.t);
  const col = (k: Exclude<keyof OverviewPoint, 't'>): (number | null)[] => hist.map((p) => p[k]);

  setKpi(
    'throughput',
    fmtRate(t.published_per_s),
    'msg/s',
    `received ${fmtRate(t.received_per_s)}/s · ${fmtInt(t.published)} published`,
    null,
    false,
  );
  drawChart(
    'throughput',
    times,
    [
      { label: 'published', values: col('published_per_s') },
      { label: 'received', values: col('received_per_s') },
    ],
    (v) => `${fmtRate(v ?? 0)}/s`,
  );

  const lag = fmtBytesParts(src.lag_bytes);
  setKpi(
    'lag',
    lag[0],
    lag[1],
    `confirmed ${src.confirmed_lsn || '–'}${src.streaming ? ' · streaming' : ' · not streaming'}`,
    src.streaming ? null : { kind: 'bad', text: 'stream down' },
    !src.streaming,
  );
  drawChart('lag', times, [{ values: col('lag_bytes') }], (v) => fmtBytes(v ?? 0));

  const p99 = fmtSecondsParts(t.latency_p99_seconds);
  setKpi('latency', p99[0], p99[1], `p50 ${fmtSeconds(t.latency_p50_seconds)} · commit → NATS`, null, false);
  drawChart(
    'latency',
    times,
    [
      { label: 'p99', values: col('latency_p99_seconds') },
      { label: 'p50', values: col('latency_p50_seconds') },
    ],
    fmtSeconds,
  );

  setKpi(
    'mailbox',
    fmtInt(t.mailbox_depth),
    t.mailbox_depth === 1 ? 'message' : 'messages',
    `in ${sink.shards}${sink.shards === 1 ? ' shard' : ' shards'} · ${sink.connected_shards}/${sink.shards} on NATS`,
    sink.connected_shards < sink.shards ? { kind: 'bad', text: 'NATS down' } : null,
    sink.connected_shards < sink.shards,
  );
  drawChart('mailbox', times, [{ values: col('mailbox_depth') }], fmtInt);

  if (t.failing_tables > 0) {
    const b = fmtSecondsParts(t.max_backoff_seconds);
    setKpi(
      'backoff',
      b[0],
      `${b[1]} max`,
      `${t.failing_tables}${t.failing_tables === 1 ? ' table' : ' tables'} backing off · ${fmtRate(t.retries_per_s)} retries/s`,
      { kind: 'bad', text: `${t.failing_tables} failing` },
      true,
    );
  } else {
    setKpi(
      'backoff',
      '0',
      's',
      `${fmtInt(t.retries)} retries in total · max ${fmtSeconds(sink.max_backoff_seconds)}`,
      { kind: 'ok', text: 'healthy' },
      false,
    );
  }
  drawChart('backoff', times, [{ label: 'max', values: col('max_backoff_seconds') }], fmtSeconds);

  for (const [tab, count] of [
    ['inflight', o.messages.inflight],
    ['failing', o.messages.failing],
    ['delivered', o.messages.delivered],
  ] as const) {
    const el = $(`n-${tab}`);
    el.textContent = fmtInt(count);
    if (tab === 'failing') el.classList.toggle('hot', count > 0);
  }
  $<HTMLButtonElement>('retry-all').disabled = o.messages.failing === 0;
  if (!state.userPickedTab) {
    const wanted = o.messages.failing > 0 ? 'failing' : 'delivered';
    if (state.tab !== wanted) nav.selectTab(wanted, false);
  }

  renderTables(o, nav);
  renderPipeline(o);
}

export function renderTables(o: ConsoleOverview, nav: Navigation): void {
  const rows = $('table-rows');
  const maxRate = o.tables.reduce((m, t) => Math.max(m, t.published_per_s), 0) || 1;
  replace(
    rows,
    o.tables.map((t) => {
      const failing = t.backoff_seconds > 0;
      return h(
        'tr',
        {
          class: `clickable${state.table === t.table ? ' selected' : ''}${failing ? ' failing' : ''}`,
          title: `Show the messages of ${t.table}`,
          onclick: () => nav.setTableFilter(state.table === t.table ? '' : t.table),
        },
        h('td', { class: 'cell-table', text: t.table }),
        h(
          'td',
          { class: 'num' },
          h('span', {
            class: 'bar',
            style: { width: `${Math.max(2, Math.round((t.published_per_s / maxRate) * 48))}px` },
          }),
          fmtRate(t.published_per_s),
        ),
        h('td', { class: 'num', text: fmtInt(t.published) }),
        h('td', { class: 'num', text: fmtInt(t.retries) }),
        h(
          'td',
          null,
          failing
            ? h('span', { class: 'status bad', text: `backoff ${fmtSeconds(t.backoff_seconds)}` })
            : h('span', { class: 'status ok', text: 'ok' }),
        ),
      );
    }),
  );
  if (o.tables.length === 0)
    replace(rows, h('tr', null, h('td', { colspan: 5, class: 'muted', text: 'No change published yet.' })));
  $('table-count').textContent = `${o.tables.length}${o.tables.length === 1 ? ' table' : ' tables'}`;
  const select = $<HTMLSelectElement>('table-filter');
  const names = o.tables.map((t) => t.table).sort();
  if (state.table && !names.includes(state.table)) names.push(state.table);
  const current = Array.from(select.options, (op) => op.value)
    .slice(1)
    .join('\n');
  if (current !== names.join('\n')) {
    replace(
      select,
      h('option', { value: '', text: 'all tables' }),
      names.map((n) => h('option', { value: n, text: n })),
    );
    select.value = state.table;
  }
}

function renderPipeline(o: ConsoleOverview): void {
  const { source: src, sink } = o;
  const facts: [string, Child][] = [
    [
      'Slot',
      h(
        'span',
        null,
        h('span', {
          class: src.streaming ? 'ok' : 'bad',
          text: src.streaming ? 'streaming' : 'not streaming',
        }),
        ` ${src.slot} · publication ${src.publication}`,
      ),
    ],
    ['Confirmed', `${src.confirmed_lsn || '–'} · lag ${fmtBytes(src.lag_bytes)}`],
  ];
  if (src.last_error) facts.push(['Last error', h('span', { class: 'bad', text: src.last_error })]);
  if (src.tables_without_identity.length > 0)
    facts.push([
      'No replica identity',
      h('span', {
        class: 'bad',
        text: `${src.tables_without_identity.join(', ')}: Postgres refuses their UPDATE and DELETE (add a primary key or REPLICA IDENTITY FULL, or drop them from the publication)`,
      }),
    ]);
  facts.push([
    'NATS',
    h(
      'span',
      null,
      h('span', {
        class: sink.connected_shards === sink.shards ? 'ok' : 'bad',
        text: `${sink.connected_shards}/${sink.shards} shards connected`,
      }),
      sink.jetstream ? ' · JetStream acks' : ' · core NATS, flush-confirmed',
    ),
  ]);
  facts.push(['Subjects', `${sink.subject_prefix}.changes.${src.database || '…'}.>`]);
  facts.push([
    'Process',
    `pid ${o.process.pid} · ${o.process.node} · up ${fmtSpan(o.uptime_seconds * 1000).trim()} · RSS ${fmtBytes(o.process.rss_bytes)}${o.process.cpu_percent === null ? '' : ` · CPU ${o.process.cpu_percent.toFixed(0)}%`}`,
  ]);
  replace(
    $('pipeline'),
    facts.map(([term, value]) => [h('dt', { text: term }), h('dd', null, value)]),
  );
  replace(
    $('thread-rows'),
    o.threads.map((t) =>
      h(
        'tr',
        null,
        h('td', { class: 'mono', text: t.thread }),
        h('td', { class: 'num', text: t.cpu_percent === null ? '–' : `${t.cpu_percent.toFixed(0)}%` }),
        h('td', { class: 'num', text: `${(t.event_loop_utilization * 100).toFixed(0)}%` }),
        h('td', { class: 'num', text: fmtSeconds(t.event_loop_lag_seconds) }),
        h('td', { class: 'num', text: fmtBytes(t.heap_used_bytes) }),
      ),
    ),
  );
}
