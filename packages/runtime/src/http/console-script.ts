/**
 * The console's script, served as /console.js (see console-page.ts). Plain browser JavaScript
 * in a string, so that it needs no bundler: it is checked by parsing it in a unit test and by
 * driving the page in headless Chromium (test/console.test.ts). It writes every server value
 * into the page as text (never as HTML), and shows message bodies from their exact JSON text
 * (a tokenizer indents it; JSON.parse would round int8 values).
 *
 * Keep it free of backquotes and dollar-brace: it lives in a String.raw template.
 */
export const CONSOLE_SCRIPT = String.raw`(function () {
'use strict';

var POLL_MS = 2000;
var state = {
  tab: null,            // 'inflight' | 'failing' | 'delivered'
  userPickedTab: false,
  table: '',
  live: true,
  overview: null,
  rows: [],
  openId: null,
  detail: null,
  detailGone: false,
  bodyShownFor: null,
  lastOkAt: 0,
  failedPolls: 0,
  timer: null,
  polling: false,
};

// ---------------------------------------------------------------- small helpers

function $(id) { return document.getElementById(id); }

function h(tag, props) {
  var el = document.createElement(tag);
  if (props) {
    Object.keys(props).forEach(function (key) {
      var value = props[key];
      if (value === null || value === undefined || value === false) return;
      if (key === 'class') el.className = value;
      else if (key === 'text') el.textContent = value;
      else if (key === 'title') el.title = value;
      else if (key === 'style') Object.assign(el.style, value); // CSSOM: allowed by the page's CSP
      else if (key.indexOf('on') === 0) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : String(value));
    });
  }
  for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
  return el;
}

function append(el, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
  el.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
}

function replace(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  for (var i = 1; i < arguments.length; i++) append(el, arguments[i]);
}

function svg(tag, attrs) {
  var el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, String(attrs[k])); });
  return el;
}

var NUMBER = new Intl.NumberFormat('en-US');
function fmtInt(n) { return NUMBER.format(Math.round(n || 0)); }

function fmtRate(n) {
  if (!isFinite(n) || n <= 0) return '0';
  if (n >= 1e6) return (n / 1e6).toFixed(n >= 1e7 ? 0 : 1) + 'M';
  if (n >= 1e4) return (n / 1e3).toFixed(0) + 'k';
  if (n >= 1e3) return (n / 1e3).toFixed(1) + 'k';
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(n < 1 ? 2 : 1);
}

function fmtBytesParts(n) {
  if (!isFinite(n) || n <= 0) return ['0', 'B'];
  var units = ['B', 'kB', 'MB', 'GB', 'TB'];
  var i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return [n >= 100 || i === 0 ? n.toFixed(0) : n.toFixed(1), units[i]];
}
function fmtBytes(n) { var p = fmtBytesParts(n); return p[0] + ' ' + p[1]; }

function fmtSecondsParts(s) {
  if (s === null || s === undefined || !isFinite(s)) return ['–', ''];
  if (s < 0.001) return [(s * 1e6).toFixed(0), 'µs'];
  if (s < 1) return [(s * 1000).toFixed(s < 0.01 ? 1 : 0), 'ms'];
  if (s < 60) return [s.toFixed(s < 10 ? 2 : 1), 's'];
  if (s < 3600) return [(s / 60).toFixed(1), 'min'];
  return [(s / 3600).toFixed(1), 'h'];
}
function fmtSeconds(s) { var p = fmtSecondsParts(s); return p[1] ? p[0] + ' ' + p[1] : p[0]; }

function fmtSpan(ms) {
  var s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60 ? (s % 60) + ' s' : '');
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
}

function ago(iso) {
  if (!iso) return '–';
  var ms = Date.now() - Date.parse(iso);
  if (ms < 1500) return 'just now';
  return fmtSpan(ms).trim() + ' ago';
}

function until(iso) {
  if (!iso) return 'now';
  var ms = Date.parse(iso) - Date.now();
  if (ms <= 500) return 'now';
  return 'in ' + fmtSpan(ms).trim();
}

function clock(iso) {
  if (!iso) return '–';
  var d = new Date(iso);
  return d.toLocaleTimeString('en-GB', { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

function lsnText(n) {
  if (typeof n !== 'number' || !isFinite(n)) return '–';
  var hi = Math.floor(n / 4294967296);
  var lo = n - hi * 4294967296;
  return hi.toString(16).toUpperCase() + '/' + lo.toString(16).toUpperCase(); // as Postgres prints it
}

function shortId(id) {
  var parts = String(id).split(':');
  return parts.length >= 2 ? parts.slice(-2).join(':') : String(id);
}

// ---------------------------------------------------------------- API

function api(path, options) {
  var init = Object.assign({ cache: 'no-store', headers: { accept: 'application/json' } }, options || {});
  return fetch(path, init).then(function (res) {
    return res.text().then(function (text) {
      var body = null;
      try { body = text ? JSON.parse(text) : null; } catch (e) { body = { error: text }; }
      if (!res.ok) {
        var err = new Error((body && body.error) || (res.status + ' ' + res.statusText));
        err.status = res.status;
        throw err;
      }
      return body;
    });
  });
}

function post(path, body) {
  return api(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body || {}) });
}

// ---------------------------------------------------------------- charts

function drawChart(id, times, series, format) {
  var el = $('c-' + id);
  var W = 300, H = 56;
  el.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  el.setAttribute('preserveAspectRatio', 'none');
  while (el.firstChild) el.removeChild(el.firstChild);
  var max = 0;
  series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null && isFinite(v) && v > max) max = v; }); });
  if (max <= 0) max = 1;
  var n = times.length;
  var x = function (i) { return n <= 1 ? W : (i / (n - 1)) * W; };
  var y = function (v) { return H - 1 - (v / max) * (H - 6); };
  var gradId = 'g-' + id;
  var defs = svg('defs');
  var grad = svg('linearGradient', { id: gradId, x1: 0, y1: 0, x2: 0, y2: 1 });
  grad.appendChild(svg('stop', { offset: '0%', 'stop-opacity': 0.35 }));
  grad.appendChild(svg('stop', { offset: '100%', 'stop-opacity': 0 }));
  defs.appendChild(grad);
  el.appendChild(defs);
  el.appendChild(svg('line', { class: 'base', x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5 }));
  series.forEach(function (s, index) {
    var d = '';
    var area = '';
    var start = -1;
    s.values.forEach(function (v, i) {
      if (v === null || !isFinite(v)) {
        if (start >= 0 && index === 0) area += 'L' + x(i - 1).toFixed(1) + ' ' + H + 'L' + x(start).toFixed(1) + ' ' + H + 'Z';
        start = -1;
        return;
      }
      var cmd = start < 0 ? 'M' : 'L';
      if (start < 0) start = i;
      d += cmd + x(i).toFixed(1) + ' ' + y(v).toFixed(1);
      if (index === 0) area += cmd + x(i).toFixed(1) + ' ' + y(v).toFixed(1);
    });
    if (start >= 0 && index === 0) area += 'L' + x(n - 1).toFixed(1) + ' ' + H + 'L' + x(start).toFixed(1) + ' ' + H + 'Z';
    if (index === 0 && area) el.appendChild(svg('path', { class: 'area', d: area, fill: 'url(#' + gradId + ')' }));
    if (d) el.appendChild(svg('path', { class: index === 0 ? 'line' : 'line second', d: d }));
  });
  var cursor = svg('line', { class: 'cursor', x1: 0, x2: 0, y1: 0, y2: H, visibility: 'hidden' });
  el.appendChild(cursor);
  el.__chart = { times: times, series: series, format: format, cursor: cursor, W: W };
}

function hookChart(id) {
  var el = $('c-' + id);
  var tip = $('t-' + id);
  el.addEventListener('mousemove', function (event) {
    var c = el.__chart;
    if (!c || c.times.length === 0) return;
    var rect = el.getBoundingClientRect();
    var n = c.times.length;
    var i = Math.max(0, Math.min(n - 1, Math.round(((event.clientX - rect.left) / rect.width) * (n - 1))));
    var px = n <= 1 ? rect.width : (i / (n - 1)) * rect.width;
    var vx = n <= 1 ? c.W : (i / (n - 1)) * c.W;
    c.cursor.setAttribute('x1', vx);
    c.cursor.setAttribute('x2', vx);
    c.cursor.setAttribute('visibility', 'visible');
    var parts = c.series.map(function (s) { return (s.label ? s.label + ' ' : '') + c.format(s.values[i]); });
    tip.textContent = new Date(c.times[i]).toLocaleTimeString('en-GB', { hour12: false }) + '  ' + parts.join(' · ');
    tip.style.left = Math.max(40, Math.min(rect.width - 40, px)) + 'px';
    tip.classList.add('show');
  });
  el.addEventListener('mouseleave', function () {
    tip.classList.remove('show');
    if (el.__chart) el.__chart.cursor.setAttribute('visibility', 'hidden');
  });
}

// ---------------------------------------------------------------- overview

function setKpi(id, value, unit, sub, badge, alert) {
  $('v-' + id).textContent = value;
  $('u-' + id).textContent = unit || '';
  $('s-' + id).textContent = sub || '\u00a0';
  var b = $('b-' + id);
  b.textContent = badge ? badge.text : '';
  b.className = 'kpi-badge' + (badge ? ' ' + badge.kind : '');
  $('kpi-' + id).classList.toggle('alert', !!alert);
}

function renderOverview(o) {
  var src = o.source, sink = o.sink, t = o.totals;
  // Header
  replace($('route'),
    h('b', { text: src.database || '?' }), ' · slot ', h('b', { text: src.slot }),
    h('span', { class: 'arrow', text: '→' }),
    h('b', { text: sink.servers.join(', ') || 'NATS' }),
    sink.jetstream ? ' (JetStream)' : '');
  var ready = $('ready');
  ready.textContent = o.ready ? 'Ready' : 'Not ready';
  ready.className = 'ready pill ' + (o.ready ? 'ok' : 'bad');
  ready.title = o.ready ? 'The slot streams and every shard is connected to NATS' : o.reasons.join('\n');
  var banner = $('banner');
  if (!o.ready) {
    replace(banner, h('b', { text: 'Not ready' }), o.reasons.length === 1 ? o.reasons[0] : h('ul', null, o.reasons.map(function (r) { return h('li', { text: r }); })));
    banner.className = 'banner bad';
  } else if (t.failing_tables > 0) {
    replace(banner, h('b', { text: t.failing_tables === 1 ? '1 table is failing' : t.failing_tables + ' tables are failing' }),
      'Its later changes wait behind the failing message and the slot cannot be confirmed past it (Postgres keeps the WAL); other tables keep flowing. See the Failing tab.');
    banner.className = 'banner';
  } else {
    banner.className = 'banner hidden';
  }
  document.title = (t.failing_tables > 0 ? '(' + t.failing_tables + ' failing) ' : '') + 'wal2nats · ' + (src.database || '');

  var hist = o.history;
  var times = hist.map(function (p) { return p.t; });
  var col = function (k) { return hist.map(function (p) { return p[k]; }); };

  setKpi('throughput', fmtRate(t.published_per_s), 'msg/s',
    'received ' + fmtRate(t.received_per_s) + '/s · ' + fmtInt(t.published) + ' published', null, false);
  drawChart('throughput', times, [{ label: 'published', values: col('published_per_s') }, { label: 'received', values: col('received_per_s') }], function (v) { return fmtRate(v) + '/s'; });

  var lag = fmtBytesParts(src.lag_bytes);
  setKpi('lag', lag[0], lag[1], 'confirmed ' + (src.confirmed_lsn || '–') + (src.streaming ? ' · streaming' : ' · not streaming'),
    src.streaming ? null : { kind: 'bad', text: 'stream down' }, !src.streaming);
  drawChart('lag', times, [{ values: col('lag_bytes') }], fmtBytes);

  var p99 = fmtSecondsParts(t.latency_p99_seconds);
  setKpi('latency', p99[0], p99[1], 'p50 ' + fmtSeconds(t.latency_p50_seconds) + ' · commit → NATS', null, false);
  drawChart('latency', times, [{ label: 'p99', values: col('latency_p99_seconds') }, { label: 'p50', values: col('latency_p50_seconds') }], fmtSeconds);

  setKpi('mailbox', fmtInt(t.mailbox_depth), t.mailbox_depth === 1 ? 'message' : 'messages',
    'in ' + sink.shards + (sink.shards === 1 ? ' shard' : ' shards') + ' · ' + sink.connected_shards + '/' + sink.shards + ' on NATS',
    sink.connected_shards < sink.shards ? { kind: 'bad', text: 'NATS down' } : null, sink.connected_shards < sink.shards);
  drawChart('mailbox', times, [{ values: col('mailbox_depth') }], fmtInt);

  if (t.failing_tables > 0) {
    var b = fmtSecondsParts(t.max_backoff_seconds);
    setKpi('backoff', b[0], b[1] + ' max', t.failing_tables + (t.failing_tables === 1 ? ' table' : ' tables') + ' backing off · ' + fmtRate(t.retries_per_s) + ' retries/s',
      { kind: 'bad', text: t.failing_tables + ' failing' }, true);
  } else {
    setKpi('backoff', '0', 's', fmtInt(t.retries) + ' retries in total · max ' + fmtSeconds(sink.max_backoff_seconds), { kind: 'ok', text: 'healthy' }, false);
  }
  drawChart('backoff', times, [{ label: 'max', values: col('max_backoff_seconds') }], fmtSeconds);

  // Tabs
  [['inflight', o.messages.inflight], ['failing', o.messages.failing], ['delivered', o.messages.delivered]].forEach(function (pair) {
    var el = $('n-' + pair[0]);
    el.textContent = fmtInt(pair[1]);
    if (pair[0] === 'failing') el.classList.toggle('hot', pair[1] > 0);
  });
  $('retry-all').disabled = o.messages.failing === 0;
  if (!state.userPickedTab) {
    var wanted = o.messages.failing > 0 ? 'failing' : 'delivered';
    if (state.tab !== wanted) selectTab(wanted, false);
  }

  renderTables(o);
  renderPipeline(o);
}

function renderTables(o) {
  var rows = $('table-rows');
  var maxRate = o.tables.reduce(function (m, t) { return Math.max(m, t.published_per_s); }, 0) || 1;
  replace(rows, o.tables.map(function (t) {
    var failing = t.backoff_seconds > 0;
    return h('tr', { class: 'clickable' + (state.table === t.table ? ' selected' : '') + (failing ? ' failing' : ''), title: 'Show the messages of ' + t.table, onclick: function () { setTableFilter(state.table === t.table ? '' : t.table); } },
      h('td', { class: 'cell-table', text: t.table }),
      h('td', { class: 'num' }, h('span', { class: 'bar', style: { width: Math.max(2, Math.round((t.published_per_s / maxRate) * 48)) + 'px' } }), fmtRate(t.published_per_s)),
      h('td', { class: 'num', text: fmtInt(t.published) }),
      h('td', { class: 'num', text: fmtInt(t.retries) }),
      h('td', null, failing ? h('span', { class: 'status bad', text: 'backoff ' + fmtSeconds(t.backoff_seconds) }) : h('span', { class: 'status ok', text: 'ok' })));
  }));
  if (o.tables.length === 0) replace(rows, h('tr', null, h('td', { colspan: 5, class: 'muted', text: 'No change published yet.' })));
  $('table-count').textContent = o.tables.length + (o.tables.length === 1 ? ' table' : ' tables');
  var select = $('table-filter');
  var names = o.tables.map(function (t) { return t.table; }).sort();
  if (state.table && names.indexOf(state.table) < 0) names.push(state.table);
  var current = Array.prototype.map.call(select.options, function (op) { return op.value; }).slice(1).join('\n');
  if (current !== names.join('\n')) {
    replace(select, h('option', { value: '', text: 'all tables' }), names.map(function (n) { return h('option', { value: n, text: n }); }));
    select.value = state.table;
  }
}

function renderPipeline(o) {
  var src = o.source, sink = o.sink;
  var facts = [
    ['Slot', h('span', null, h('span', { class: src.streaming ? 'ok' : 'bad', text: src.streaming ? 'streaming' : 'not streaming' }), ' ' + src.slot + ' · publication ' + src.publication)],
    ['Confirmed', (src.confirmed_lsn || '–') + ' · lag ' + fmtBytes(src.lag_bytes)],
  ];
  if (src.last_error) facts.push(['Last error', h('span', { class: 'bad', text: src.last_error })]);
  facts.push(['NATS', h('span', null, h('span', { class: sink.connected_shards === sink.shards ? 'ok' : 'bad', text: sink.connected_shards + '/' + sink.shards + ' shards connected' }), sink.jetstream ? ' · JetStream acks' : ' · core NATS, flush-confirmed')]);
  facts.push(['Subjects', sink.subject_prefix + '.changes.' + (src.database || '…') + '.>']);
  facts.push(['Process', 'pid ' + o.process.pid + ' · ' + o.process.node + ' · up ' + fmtSpan(o.uptime_seconds * 1000).trim() + ' · RSS ' + fmtBytes(o.process.rss_bytes) + (o.process.cpu_percent === null ? '' : ' · CPU ' + o.process.cpu_percent.toFixed(0) + '%')]);
  replace($('pipeline'), facts.map(function (f) { return [h('dt', { text: f[0] }), h('dd', null, f[1])]; }));
  replace($('thread-rows'), o.threads.map(function (t) {
    return h('tr', null,
      h('td', { class: 'mono', text: t.thread }),
      h('td', { class: 'num', text: t.cpu_percent === null ? '–' : t.cpu_percent.toFixed(0) + '%' }),
      h('td', { class: 'num', text: (t.event_loop_utilization * 100).toFixed(0) + '%' }),
      h('td', { class: 'num', text: fmtSeconds(t.event_loop_lag_seconds) }),
      h('td', { class: 'num', text: fmtBytes(t.heap_used_bytes) }));
  }));
}

// ---------------------------------------------------------------- messages list

var COLUMNS = {
  inflight: ['Table', 'Subject', 'Action', 'Commit', 'Deliver #', 'Published'],
  failing: ['Table', 'Subject', 'Action', 'Commit', 'Deliver #', 'Last error', 'Next attempt', ''],
  delivered: ['Table', 'Subject', 'Action', 'Commit', 'Deliver #', 'Delivered', 'Latency'],
};

function subjectCell(subject) {
  var parts = String(subject).split('.');
  var tail = parts.slice(-3).join('.');
  var head = parts.slice(0, -3).join('.');
  return h('td', { class: 'cell-subject', title: subject }, head ? h('span', { class: 'pre', text: head + '.' }) : null, tail);
}

function renderRows() {
  var tab = state.tab;
  var head = $('message-head');
  replace(head, h('tr', null, COLUMNS[tab].map(function (c) { return h('th', { class: c === 'Deliver #' ? 'num' : null, text: c }); })));
  var body = $('message-rows');
  var rows = state.rows;
  replace(body, rows.map(function (m) {
    var cells = [
      h('td', { class: 'cell-table', text: m.table }),
      subjectCell(m.subject),
      h('td', null, h('span', { class: 'action ' + m.action, text: m.action })),
      h('td', { class: 'cell-pos', title: 'commit LSN ' + lsnText(m.commit_lsn) + ', change ' + m.commit_idx + ' of the transaction', text: lsnText(m.commit_lsn) + ' #' + m.commit_idx }),
      h('td', { class: 'num' }, h('span', { class: 'deliver-count' + (m.deliver_count > 1 ? ' many' : ''), text: String(m.deliver_count) })),
    ];
    if (tab === 'inflight') cells.push(h('td', { class: 'when', text: ago(m.last_attempt_at) }));
    if (tab === 'failing') {
      cells.push(h('td', { class: 'cell-error last-error', title: m.last_error || '', text: m.last_error || '–' }));
      var soon = m.next_attempt_at && Date.parse(m.next_attempt_at) - Date.now() < 5000;
      cells.push(h('td', { class: 'when next-attempt' + (soon ? ' soon' : '') }, until(m.next_attempt_at),
        m.queued_behind ? h('span', { class: 'queued', title: 'later changes of ' + m.table + ' waiting behind this one', text: '+' + fmtInt(m.queued_behind) + ' waiting' }) : null));
      cells.push(h('td', null, h('button', { class: 'btn danger row-retry', type: 'button', 'data-id': m.id, onclick: function (event) { event.stopPropagation(); retry(m.id, m.table); } }, 'Retry now')));
    }
    if (tab === 'delivered') {
      cells.push(h('td', { class: 'when', title: clock(m.delivered_at), text: ago(m.delivered_at) }));
      var latency = m.delivered_at ? (Date.parse(m.delivered_at) - Date.parse(m.commit_timestamp)) / 1000 : null;
      cells.push(h('td', { class: 'when', text: latency === null ? '–' : fmtSeconds(Math.max(0, latency)) }));
    }
    return h('tr', { class: 'clickable message-row' + (tab === 'failing' ? ' failing' : '') + (state.openId === m.id ? ' selected' : ''), 'data-id': m.id, onclick: function () { openMessage(m.id); } }, cells);
  }));
  var empty = $('message-empty');
  if (rows.length === 0) {
    var text = {
      inflight: ['Nothing in flight', 'A message is in flight between its publish and the server\'s confirmation; under load that is a few milliseconds.'],
      failing: ['Nothing is failing', 'Every table is delivering. A message that NATS refuses shows up here with its error and deliver count.'],
      delivered: ['Nothing delivered yet', 'The most recent deliveries of each shard show up here.'],
    }[tab];
    if (state.table) text[1] = 'Filtered to ' + state.table + '. ' + text[1];
    replace(empty, h('div', { class: 'icon', text: tab === 'failing' ? '✓' : '○' }), h('div', { class: 'big', text: text[0] }), h('div', { text: text[1] }));
    empty.className = 'empty' + (tab === 'failing' ? ' good' : '');
  } else {
    empty.className = 'empty hidden';
  }
}

function selectTab(tab, byUser) {
  if (byUser) state.userPickedTab = true;
  if (state.tab === tab) return;
  state.tab = tab;
  state.rows = [];
  Array.prototype.forEach.call(document.querySelectorAll('.tab'), function (b) { b.setAttribute('aria-selected', String(b.getAttribute('data-state') === tab)); });
  renderRows();
  loadRows();
}

function setTableFilter(table) {
  state.table = table;
  $('table-filter').value = table;
  if (state.overview) renderTables(state.overview);
  loadRows();
}

function loadRows() {
  if (!state.tab) return Promise.resolve();
  var tab = state.tab;
  var table = state.table;
  var query = '/api/messages?state=' + tab + '&limit=200' + (table ? '&table=' + encodeURIComponent(table) : '');
  return api(query).then(function (rows) {
    if (tab !== state.tab || table !== state.table) return;
    state.rows = rows;
    renderRows();
  });
}

// ---------------------------------------------------------------- message detail

function openMessage(id) {
  state.openId = id;
  state.detail = null;
  state.detailGone = false;
  state.bodyShownFor = null;
  $('drawer').classList.remove('hidden');
  $('scrim').classList.remove('hidden');
  replace($('detail-body'));
  $('detail-title').textContent = shortId(id);
  renderRows();
  loadDetail();
}

function closeMessage() {
  state.openId = null;
  state.detail = null;
  $('drawer').classList.add('hidden');
  $('scrim').classList.add('hidden');
  renderRows();
}

function loadDetail() {
  var id = state.openId;
  if (!id) return Promise.resolve();
  return api('/api/messages/' + encodeURIComponent(id)).then(function (detail) {
    if (state.openId !== id) return;
    state.detail = detail;
    state.detailGone = false;
    renderDetail();
  }, function (err) {
    if (state.openId !== id) return;
    if (err.status === 404) { state.detailGone = true; renderDetail(); return; }
    throw err;
  });
}

function renderDetail() {
  var d = state.detail;
  $('detail-gone').classList.toggle('hidden', !state.detailGone);
  if (!d) { $('detail-retry').disabled = true; return; }
  var st = $('detail-state');
  st.textContent = d.state === 'inflight' ? 'in flight' : d.state;
  st.className = 'state ' + d.state;
  $('detail-table').textContent = d.table + ' · ' + d.action;
  $('detail-title').textContent = lsnText(d.commit_lsn) + ' #' + d.commit_idx;
  $('detail-subject').textContent = d.subject;
  var failing = d.state === 'failing' && !state.detailGone;
  $('detail-retry').disabled = !failing;
  $('detail-retry').classList.toggle('hidden', d.state !== 'failing');
  $('detail-error-box').classList.toggle('hidden', !d.last_error);
  $('detail-error').textContent = d.last_error || '';
  var facts = [
    ['Deliver count', h('span', { id: 'detail-deliver-count', class: d.deliver_count > 1 ? 'bad' : null, text: String(d.deliver_count) })],
    ['Shard', String(d.shard)],
    ['Commit LSN', lsnText(d.commit_lsn) + ' (' + d.commit_lsn + ')'],
    ['Change', '#' + d.commit_idx + ' of its transaction'],
    ['Committed', clock(d.commit_timestamp)],
    ['Last attempt', d.last_attempt_at ? clock(d.last_attempt_at) + ' (' + ago(d.last_attempt_at) + ')' : '–'],
  ];
  if (d.state === 'failing') {
    facts.push(['Next attempt', h('span', { id: 'detail-next-attempt', text: d.next_attempt_at ? clock(d.next_attempt_at) + ' (' + until(d.next_attempt_at) + ')' : 'now' })]);
    facts.push(['Failing since', d.failing_since ? ago(d.failing_since) : '–']);
    if (d.queued_behind !== null) facts.push(['Waiting behind', d.queued_behind === 0 ? 'nothing yet' : fmtInt(d.queued_behind) + (d.queued_behind === 1 ? ' later change of ' : ' later changes of ') + d.table]);
  }
  if (d.delivered_at) facts.push(['Delivered', clock(d.delivered_at) + ' (' + ago(d.delivered_at) + ')']);
  replace($('detail-facts'), facts.map(function (f) { return [h('dt', { text: f[0] }), h('dd', null, f[1])]; }));
  replace($('detail-headers'), Object.keys(d.headers).map(function (k) { return [h('dt', { text: k }), h('dd', { text: d.headers[k] })]; }));
  if (state.bodyShownFor !== d.id) {
    state.bodyShownFor = d.id;
    var pre = $('detail-body');
    replace(pre, prettyJson(d.body));
    if (d.body_truncated) append(pre, h('span', { class: 'cut', text: '\n… cut: the first ' + fmtInt(d.body.length) + ' of ' + fmtInt(d.body_length) + ' characters are shown' }));
    $('detail-size').textContent = fmtBytes(d.body_length);
  }
}

/** Indents JSON text without parsing it (so every digit of a number is kept), with colours. */
function prettyJson(text) {
  var frag = document.createDocumentFragment();
  var depth = 0;
  var i = 0;
  var n = text.length;
  var pad = function () { return '\n' + '  '.repeat(Math.max(0, depth)); };
  var put = function (cls, s) { if (cls) frag.appendChild(h('span', { class: cls, text: s })); else frag.appendChild(document.createTextNode(s)); };
  while (i < n) {
    var c = text[i];
    if (c === '"') {
      var j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      var str = text.slice(i, Math.min(n, j + 1));
      var k = j + 1;
      while (k < n && /\s/.test(text[k])) k++;
      put(text[k] === ':' ? 'k' : 's', str);
      i = j + 1;
    } else if (c === '{' || c === '[') {
      var close = c === '{' ? '}' : ']';
      var m = i + 1;
      while (m < n && /\s/.test(text[m])) m++;
      if (text[m] === close) { put('p', c + close); i = m + 1; continue; }
      depth++;
      put('p', c);
      put(null, pad());
      i++;
    } else if (c === '}' || c === ']') {
      depth--;
      put(null, pad());
      put('p', c);
      i++;
    } else if (c === ',') {
      put('p', ',');
      put(null, pad());
      i++;
    } else if (c === ':') {
      put('p', ': ');
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else {
      var e = i;
      while (e < n && !/[\s,:\]\}]/.test(text[e])) e++;
      if (e === i) e = i + 1;
      var word = text.slice(i, e);
      put(/^(true|false|null)$/.test(word) ? 'b' : 'n', word);
      i = e;
    }
  }
  return frag;
}

// ---------------------------------------------------------------- actions

function toast(text, bad) {
  var el = h('div', { class: 'toast' + (bad ? ' bad' : ''), text: text });
  $('toasts').appendChild(el);
  setTimeout(function () { el.remove(); }, 3500);
}

function retry(id, table) {
  return post('/api/messages/retry', id ? { id: id } : {}).then(function (result) {
    toast(id ? 'Retrying ' + (table || shortId(id)) + ' now' : 'Retrying ' + result.retried + (result.retried === 1 ? ' failing table' : ' failing tables') + ' now');
    return refreshSoon();
  }, function (err) {
    toast('Retry failed: ' + err.message, true);
  });
}

function refreshSoon() {
  // The retry runs on the shard's next loop turn; ask again shortly after.
  return new Promise(function (resolve) { setTimeout(resolve, 150); }).then(poll);
}

// ---------------------------------------------------------------- polling

function updateLiveState() {
  var el = $('live-state');
  var label = $('updated');
  el.classList.toggle('paused', !state.live);
  el.classList.toggle('stale', state.live && state.failedPolls > 1);
  if (!state.live) label.textContent = 'paused';
  else if (state.failedPolls > 1) label.textContent = 'cannot reach wal2nats' + (state.lastOkAt ? ' · last data ' + ago(new Date(state.lastOkAt).toISOString()) : '');
  else if (state.lastOkAt) label.textContent = 'live · updated ' + ago(new Date(state.lastOkAt).toISOString());
}

function poll() {
  if (state.polling) return Promise.resolve();
  state.polling = true;
  return api('/api/overview').then(function (o) {
    state.overview = o;
    renderOverview(o);
    return Promise.all([loadRows(), loadDetail()]);
  }).then(function () {
    state.lastOkAt = Date.now();
    state.failedPolls = 0;
  }, function (err) {
    state.failedPolls++;
    if (state.failedPolls === 2) toast('Cannot reach wal2nats: ' + err.message, true);
  }).then(function () {
    state.polling = false;
    updateLiveState();
  });
}

function schedule() {
  clearTimeout(state.timer);
  if (!state.live) return;
  state.timer = setTimeout(function () { poll().then(schedule); }, POLL_MS);
}

function init() {
  ['throughput', 'lag', 'latency', 'mailbox', 'backoff'].forEach(hookChart);
  $('kpi-throughput').classList.add('c-blue');
  $('kpi-lag').classList.add('c-violet');
  $('kpi-latency').classList.add('c-cyan');
  $('kpi-mailbox').classList.add('c-green');
  $('kpi-backoff').classList.add('c-red');
  Array.prototype.forEach.call(document.querySelectorAll('.tab'), function (b) {
    b.addEventListener('click', function () { selectTab(b.getAttribute('data-state'), true); });
  });
  $('table-filter').addEventListener('change', function (e) { setTableFilter(e.target.value); });
  $('retry-all').addEventListener('click', function () { retry(null); });
  $('detail-retry').addEventListener('click', function () { if (state.detail) retry(state.detail.id, state.detail.table); });
  $('detail-close').addEventListener('click', closeMessage);
  $('scrim').addEventListener('click', closeMessage);
  $('detail-copy').addEventListener('click', function () {
    if (!state.detail) return;
    navigator.clipboard.writeText(state.detail.body).then(function () { toast('Body copied'); }, function () { toast('The browser refused the clipboard', true); });
  });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape' && state.openId) closeMessage(); });
  $('live-toggle').addEventListener('click', function () {
    state.live = !state.live;
    $('live-toggle').textContent = state.live ? 'Pause' : 'Resume';
    updateLiveState();
    if (state.live) poll().then(schedule); else clearTimeout(state.timer);
  });
  setInterval(updateLiveState, 1000);
  poll().then(schedule);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
`;
