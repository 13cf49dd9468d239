/**
 * The console at `GET /`: one page served by the process, with nothing fetched from elsewhere.
 * Its markup and styles are here; its script is the typed ES modules of src/console, compiled
 * by `tsc` with the rest (console-assets.ts serves them). The page reads `/api/overview` and
 * `/api/messages` every 2 s and posts `/api/messages/retry`.
 */
const ICON =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='8' fill='%235b8cff'/%3E%3Cpath d='M7 20c3-8 6-8 9 0s6 8 9 0' stroke='white' stroke-width='3' fill='none' stroke-linecap='round'/%3E%3C/svg%3E";

const KPI = (id: string, title: string, unit: string): string => `
      <article class="kpi" id="kpi-${id}">
        <header><h2>${title}</h2><span class="kpi-badge" id="b-${id}"></span></header>
        <div class="kpi-value"><span id="v-${id}">–</span><small id="u-${id}">${unit}</small></div>
        <div class="kpi-sub" id="s-${id}">&nbsp;</div>
        <div class="chart-wrap"><svg class="chart" id="c-${id}" aria-hidden="true"></svg><div class="chart-tip" id="t-${id}"></div></div>
      </article>`;

export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>wal2nats console</title>
  <link rel="icon" href="${ICON}">
  <link rel="stylesheet" href="/console.css">
  <script type="module" src="/console/console.js"></script>
</head>
<body>
  <header class="topbar">
    <div class="brand"><img src="${ICON}" alt="" width="22" height="22"><span>wal2nats</span></div>
    <div class="route" id="route">connecting…</div>
    <div class="grow"></div>
    <div class="ready pill" id="ready" title="">…</div>
    <div class="pill" id="role" title="">…</div>
    <div class="live" id="live-state"><span class="dot"></span><span id="updated">connecting</span></div>
    <button class="btn ghost" id="live-toggle" type="button" title="Pause or resume live updates">Pause</button>
  </header>
  <div class="banner bad hidden" id="exposed-banner" role="alert"><b>Open to the network</b>This port is reachable from other machines without a token (--http-allow-anonymous): anyone who reaches it sees row data and can retry messages. Set --http-token-file.</div>
  <div class="banner hidden" id="banner" role="status"></div>
  <main>
    <section class="kpis" aria-label="At a glance">${KPI('throughput', 'Throughput', 'msg/s')}${KPI('lag', 'Replication lag', '')}${KPI('latency', 'End-to-end latency p99', '')}${KPI('mailbox', 'Undelivered', 'messages')}${KPI('backoff', 'Backoff', '')}
    </section>
    <div class="panel messages" id="messages">
      <div class="panel-head">
        <div class="tabs" role="tablist" aria-label="Messages">
          <button class="tab" role="tab" type="button" data-state="inflight">In flight <span class="count" id="n-inflight">0</span></button>
          <button class="tab" role="tab" type="button" data-state="failing">Failing <span class="count" id="n-failing">0</span></button>
          <button class="tab" role="tab" type="button" data-state="delivered">Delivered <span class="count" id="n-delivered">0</span></button>
        </div>
        <div class="grow"></div>
        <label class="filter"><span>Table</span><select id="table-filter"><option value="">all tables</option></select></label>
        <button class="btn danger" id="retry-all" type="button" disabled>Retry all failing</button>
      </div>
      <div class="table-scroll">
        <table class="grid-table" id="message-table">
          <thead id="message-head"></thead>
          <tbody id="message-rows"></tbody>
        </table>
        <div class="empty hidden" id="message-empty"></div>
      </div>
    </div>
    <section class="lower">
      <div class="panel">
        <div class="panel-head"><h2>Tables</h2><div class="grow"></div><span class="muted" id="table-count"></span></div>
        <div class="table-scroll short">
          <table class="grid-table compact" id="tables">
            <thead><tr><th>Table</th><th class="num">msg/s</th><th class="num">Published</th><th class="num">Retries</th><th>Status</th></tr></thead>
            <tbody id="table-rows"></tbody>
          </table>
        </div>
      </div>
      <div class="panel">
        <div class="panel-head"><h2>Pipeline</h2></div>
        <dl class="facts" id="pipeline"></dl>
        <table class="grid-table compact" id="threads">
          <thead><tr><th>Thread</th><th class="num">CPU</th><th class="num">Busy</th><th class="num">Loop lag</th><th class="num">Heap</th></tr></thead>
          <tbody id="thread-rows"></tbody>
        </table>
      </div>
    </section>
  </main>
  <div class="scrim hidden" id="scrim"></div>
  <aside class="drawer hidden" id="drawer" role="dialog" aria-modal="true" aria-labelledby="detail-title">
    <header class="drawer-head">
      <div>
        <div class="drawer-kicker"><span class="state" id="detail-state"></span><span id="detail-table"></span></div>
        <h2 id="detail-title">Message</h2>
      </div>
      <div class="grow"></div>
      <button class="btn danger" id="detail-retry" type="button">Retry now</button>
      <button class="btn ghost icon" id="detail-close" type="button" aria-label="Close">✕</button>
    </header>
    <div class="drawer-body">
      <div class="gone hidden" id="detail-gone">This message is no longer held: it left the in-flight or failing set and is not among the recently delivered. What is shown is its last known state.</div>
      <section>
        <h3>Subject</h3>
        <div class="subject mono" id="detail-subject"></div>
      </section>
      <div class="error-box hidden" id="detail-error-box"><h3>Last error</h3><div class="mono" id="detail-error"></div></div>
      <section><dl class="facts two" id="detail-facts"></dl></section>
      <section>
        <h3>Headers</h3>
        <dl class="facts mono" id="detail-headers"></dl>
      </section>
      <section>
        <div class="row"><h3>Body</h3><div class="grow"></div><span class="muted" id="detail-size"></span><button class="btn ghost small" id="detail-copy" type="button">Copy</button></div>
        <pre class="json" id="detail-body"></pre>
      </section>
    </div>
  </aside>
  <div class="token-dialog hidden" id="token-dialog" role="dialog" aria-modal="true" aria-labelledby="token-title">
    <form class="token-card" id="token-form" autocomplete="off">
      <h2 id="token-title">HTTP token</h2>
      <p class="muted">This wal2nats needs its HTTP token (the value of --http-token or --http-token-file). It is kept in this browser tab only.</p>
      <input class="token-input mono" id="token-input" type="password" aria-label="HTTP token" spellcheck="false">
      <div class="token-error" id="token-error" role="alert"></div>
      <button class="btn" id="token-submit" type="submit">Open the console</button>
    </form>
  </div>
  <div class="toasts" id="toasts" aria-live="polite"></div>
  <noscript>The console needs JavaScript; the same data is at /api/overview and /api/messages?state=failing.</noscript>
</body>
</html>
`;

export const CONSOLE_CSS = `
:root {
  color-scheme: dark;
  --bg: #0a0e16; --panel: #111725; --panel-2: #161e2f; --border: #222b3d; --border-2: #2c3750;
  --text: #e5e9f2; --muted: #8a94a8; --faint: #5d6780;
  --accent: #5b8cff; --accent-2: #8aaeff; --green: #34d399; --amber: #fbbf24; --red: #f5587b; --violet: #a78bfa; --cyan: #22d3ee;
  --shadow: 0 1px 0 rgba(255,255,255,0.03) inset, 0 8px 24px rgba(0,0,0,0.25);
  --sans: Inter, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", system-ui, sans-serif;
  --mono: "JetBrains Mono", ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono", monospace;
}
@media (prefers-color-scheme: light) {
  :root {
    color-scheme: light;
    --bg: #f4f6fb; --panel: #ffffff; --panel-2: #f7f9fc; --border: #e3e8f0; --border-2: #d5dce8;
    --text: #141a26; --muted: #5f6b80; --faint: #9aa4b6;
    --accent: #3d6ef5; --accent-2: #2c57d1; --green: #0f9f6e; --amber: #c77c02; --red: #d92d5b; --violet: #7c5ce0; --cyan: #0891b2;
    --shadow: 0 1px 2px rgba(16,24,40,0.06), 0 4px 16px rgba(16,24,40,0.04);
  }
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.45 var(--sans); }
body { min-height: 100vh; }
.mono, code, pre { font-family: var(--mono); font-size: 12.5px; }
.muted { color: var(--muted); }
.grow { flex: 1; }
.hidden { display: none !important; }
button { font: inherit; color: inherit; }
h2 { font-size: 13px; font-weight: 600; letter-spacing: 0.02em; margin: 0; color: var(--muted); text-transform: uppercase; }
h3 { font-size: 12px; font-weight: 600; margin: 0 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }

.topbar { position: sticky; top: 0; z-index: 5; display: flex; align-items: center; gap: 16px; padding: 10px 24px;
  background: color-mix(in srgb, var(--bg) 88%, transparent); backdrop-filter: blur(8px); border-bottom: 1px solid var(--border); }
.brand { display: flex; align-items: center; gap: 8px; font-weight: 700; font-size: 16px; letter-spacing: -0.01em; }
.route { color: var(--muted); font-family: var(--mono); font-size: 12.5px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; min-width: 0; }
.route b { color: var(--text); font-weight: 500; }
.route .arrow { color: var(--faint); margin: 0 6px; }
.pill { display: inline-flex; align-items: center; gap: 6px; padding: 3px 10px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid var(--border-2); white-space: nowrap; }
.pill::before { content: ""; width: 7px; height: 7px; border-radius: 50%; background: currentColor; }
.pill.ok { color: var(--green); background: color-mix(in srgb, var(--green) 12%, transparent); border-color: color-mix(in srgb, var(--green) 35%, transparent); }
.pill.bad { color: var(--red); background: color-mix(in srgb, var(--red) 12%, transparent); border-color: color-mix(in srgb, var(--red) 35%, transparent); }
.pill.warn { color: var(--amber); background: color-mix(in srgb, var(--amber) 12%, transparent); border-color: color-mix(in srgb, var(--amber) 35%, transparent); }
.live { display: flex; align-items: center; gap: 6px; color: var(--muted); font-size: 12px; white-space: nowrap; }
.live .dot { width: 7px; height: 7px; border-radius: 50%; background: var(--green); box-shadow: 0 0 0 0 color-mix(in srgb, var(--green) 60%, transparent); animation: pulse 2s infinite; }
.live.paused .dot { background: var(--faint); animation: none; }
.live.stale .dot { background: var(--red); animation: none; }
@keyframes pulse { 0% { box-shadow: 0 0 0 0 color-mix(in srgb, var(--green) 55%, transparent); } 70% { box-shadow: 0 0 0 7px transparent; } 100% { box-shadow: 0 0 0 0 transparent; } }

.btn { display: inline-flex; align-items: center; gap: 6px; padding: 6px 12px; border-radius: 8px; border: 1px solid var(--border-2);
  background: var(--panel-2); cursor: pointer; font-size: 13px; font-weight: 500; white-space: nowrap; }
.btn:hover:not(:disabled) { border-color: var(--accent); }
.btn:disabled { opacity: 0.45; cursor: default; }
.btn.ghost { background: transparent; }
.btn.small { padding: 2px 8px; font-size: 12px; }
.btn.icon { padding: 4px 9px; }
.btn.danger { color: #fff; background: linear-gradient(180deg, #ff6a8b, #e23d66); border-color: transparent; box-shadow: 0 1px 8px rgba(245,88,123,0.25); }
.btn.danger:hover:not(:disabled) { filter: brightness(1.08); border-color: transparent; }
.btn.danger:disabled { background: var(--panel-2); color: var(--muted); border-color: var(--border-2); box-shadow: none; }
.btn.row-retry { padding: 3px 9px; font-size: 12px; }

.banner { margin: 12px 24px 0; padding: 10px 14px; border-radius: 10px; border: 1px solid color-mix(in srgb, var(--amber) 40%, transparent);
  background: color-mix(in srgb, var(--amber) 10%, var(--panel)); color: var(--text); font-size: 13px; }
.banner.bad { border-color: color-mix(in srgb, var(--red) 45%, transparent); background: color-mix(in srgb, var(--red) 10%, var(--panel)); }
.banner b { color: var(--amber); margin-right: 6px; }
.banner.bad b { color: var(--red); }
.banner ul { margin: 4px 0 0; padding-left: 18px; }

main { padding: 16px 24px 32px; max-width: 1680px; margin: 0 auto; }
.kpis { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 14px; }
.kpi { position: relative; background: var(--panel); border: 1px solid var(--border); border-radius: 14px; padding: 14px 16px 10px; box-shadow: var(--shadow); min-width: 0; }
.kpi header { display: flex; align-items: center; justify-content: space-between; gap: 8px; }
.kpi-badge { font-size: 11px; font-weight: 600; padding: 1px 8px; border-radius: 999px; }
.kpi-badge:empty { display: none; }
.kpi-badge.bad { color: var(--red); background: color-mix(in srgb, var(--red) 14%, transparent); }
.kpi-badge.ok { color: var(--green); background: color-mix(in srgb, var(--green) 14%, transparent); }
.kpi-badge.warn { color: var(--amber); background: color-mix(in srgb, var(--amber) 14%, transparent); }
.kpi-value { margin-top: 6px; font-size: 28px; font-weight: 650; letter-spacing: -0.02em; font-variant-numeric: tabular-nums; white-space: nowrap; }
.kpi-value small { font-size: 13px; font-weight: 500; color: var(--muted); margin-left: 6px; letter-spacing: 0; }
.kpi-sub { color: var(--muted); font-size: 12px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.kpi.alert { border-color: color-mix(in srgb, var(--red) 45%, var(--border)); background: linear-gradient(180deg, color-mix(in srgb, var(--red) 7%, var(--panel)), var(--panel)); }
.kpi.alert .kpi-value { color: var(--red); }
.chart-wrap { position: relative; margin-top: 8px; }
.chart { display: block; width: 100%; height: 56px; overflow: visible; }
.chart .area { stroke: none; }
.chart .line { fill: none; stroke-width: 1.75; vector-effect: non-scaling-stroke; stroke-linejoin: round; }
.chart .line.second { stroke-width: 1.25; stroke-dasharray: 3 3; opacity: 0.8; }
.chart .base { stroke: var(--border); stroke-width: 1; vector-effect: non-scaling-stroke; }
.chart .cursor { stroke: var(--muted); stroke-width: 1; vector-effect: non-scaling-stroke; stroke-dasharray: 2 2; }
.chart-tip { position: absolute; top: -26px; transform: translateX(-50%); padding: 2px 8px; border-radius: 6px; background: var(--text); color: var(--bg);
  font-size: 11px; font-weight: 600; white-space: nowrap; pointer-events: none; opacity: 0; transition: opacity 0.1s; }
.chart-tip.show { opacity: 1; }
.c-blue { --c: var(--accent); } .c-violet { --c: var(--violet); } .c-cyan { --c: var(--cyan); } .c-amber { --c: var(--amber); } .c-red { --c: var(--red); } .c-green { --c: var(--green); }
.chart .line { stroke: var(--c); }
.chart stop { stop-color: var(--c); }
.chart .line.second { stroke: var(--muted); }

.messages { margin-top: 14px; }
.lower { display: grid; grid-template-columns: minmax(0, 1.25fr) minmax(0, 1fr); gap: 14px; margin-top: 14px; align-items: start; }
.panel { background: var(--panel); border: 1px solid var(--border); border-radius: 14px; box-shadow: var(--shadow); min-width: 0; overflow: hidden; }
.panel-head { display: flex; align-items: center; gap: 10px; padding: 10px 14px; border-bottom: 1px solid var(--border); min-height: 50px; }
.tabs { display: flex; gap: 4px; background: var(--panel-2); border: 1px solid var(--border); padding: 3px; border-radius: 10px; }
.tab { border: 0; background: transparent; padding: 5px 12px; border-radius: 7px; cursor: pointer; color: var(--muted); font-weight: 550; font-size: 13px; display: inline-flex; gap: 7px; align-items: center; }
.tab[aria-selected="true"] { background: var(--panel); color: var(--text); box-shadow: 0 1px 3px rgba(0,0,0,0.25); }
.count { font-size: 11px; font-weight: 700; padding: 0 7px; border-radius: 999px; background: var(--border); color: var(--muted); font-variant-numeric: tabular-nums; min-width: 20px; text-align: center; }
.tab[data-state="failing"] .count.hot { background: var(--red); color: #fff; }
.filter { display: flex; align-items: center; gap: 6px; color: var(--muted); font-size: 12px; }
select { font: inherit; font-size: 13px; color: var(--text); background: var(--panel-2); border: 1px solid var(--border-2); border-radius: 8px; padding: 5px 8px; max-width: 220px; }

.table-scroll { overflow: auto; max-height: 460px; }
.table-scroll.short { max-height: 300px; }
.grid-table { width: 100%; border-collapse: collapse; font-size: 13px; }
.grid-table th { position: sticky; top: 0; background: var(--panel); text-align: left; font-size: 11px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; padding: 8px 12px; border-bottom: 1px solid var(--border); white-space: nowrap; z-index: 1; }
.grid-table td { padding: 8px 12px; border-bottom: 1px solid var(--border); vertical-align: middle; white-space: nowrap; }
.grid-table.compact td, .grid-table.compact th { padding: 6px 12px; }
.grid-table tbody tr:last-child td { border-bottom: 0; }
.grid-table .num { text-align: right; font-variant-numeric: tabular-nums; }
.grid-table tbody tr.clickable { cursor: pointer; }
.grid-table tbody tr.clickable:hover td { background: var(--panel-2); }
.grid-table tbody tr.selected td { background: color-mix(in srgb, var(--accent) 10%, transparent); }
.grid-table tr.failing td:first-child { box-shadow: inset 3px 0 0 var(--red); }
.cell-subject { max-width: 360px; overflow: hidden; text-overflow: ellipsis; font-family: var(--mono); font-size: 12px; color: var(--text); }
.cell-subject .pre { color: var(--faint); }
.cell-table { font-weight: 550; }
.cell-error { max-width: 300px; overflow: hidden; text-overflow: ellipsis; color: var(--red); font-family: var(--mono); font-size: 12px; }
.cell-pos { font-family: var(--mono); font-size: 12px; color: var(--muted); }
.deliver-count { font-weight: 700; font-variant-numeric: tabular-nums; }
.deliver-count.many { color: var(--red); }
.when { color: var(--muted); font-variant-numeric: tabular-nums; }
.when.soon { color: var(--amber); }
.queued { color: var(--muted); font-size: 12px; margin-left: 6px; }
.action { display: inline-block; font-size: 11px; font-weight: 700; padding: 1px 8px; border-radius: 6px; text-transform: lowercase; letter-spacing: 0.02em; }
.action.insert { color: var(--green); background: color-mix(in srgb, var(--green) 13%, transparent); }
.action.update { color: var(--accent-2); background: color-mix(in srgb, var(--accent) 15%, transparent); }
.action.delete { color: var(--red); background: color-mix(in srgb, var(--red) 13%, transparent); }
.action.truncate, .action.read { color: var(--violet); background: color-mix(in srgb, var(--violet) 14%, transparent); }
.state { display: inline-block; font-size: 11px; font-weight: 700; padding: 1px 8px; border-radius: 999px; margin-right: 8px; text-transform: uppercase; letter-spacing: 0.04em; }
.state.failing { color: #fff; background: var(--red); }
.state.inflight { color: #fff; background: var(--accent); }
.state.delivered { color: #062a1d; background: var(--green); }
.status { font-size: 12px; font-weight: 600; }
.status.ok { color: var(--green); }
.status.bad { color: var(--red); }
.bar { display: inline-block; height: 6px; border-radius: 3px; background: linear-gradient(90deg, var(--accent), var(--violet)); vertical-align: middle; margin-right: 8px; opacity: 0.85; }
.empty { padding: 44px 20px; text-align: center; color: var(--muted); }
.empty .big { font-size: 15px; color: var(--text); font-weight: 600; margin-bottom: 4px; }
.empty .icon { font-size: 26px; margin-bottom: 6px; }
.empty.good .icon { color: var(--green); }

.facts { display: grid; grid-template-columns: max-content 1fr; gap: 6px 14px; margin: 0; padding: 12px 14px; font-size: 13px; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.facts.two { grid-template-columns: max-content 1fr max-content 1fr; padding: 0; }
.facts.mono { padding: 0; font-family: var(--mono); font-size: 12.5px; }
.facts .ok { color: var(--green); font-weight: 600; }
.facts .bad { color: var(--red); font-weight: 600; }

.scrim { position: fixed; inset: 0; background: rgba(3,6,12,0.45); z-index: 9; }
.drawer { position: fixed; top: 0; right: 0; bottom: 0; width: min(640px, 100vw); z-index: 10; background: var(--panel); border-left: 1px solid var(--border-2);
  box-shadow: -16px 0 48px rgba(0,0,0,0.35); display: flex; flex-direction: column; }
.drawer-head { display: flex; align-items: center; gap: 10px; padding: 16px 20px; border-bottom: 1px solid var(--border); }
.drawer-head h2 { text-transform: none; letter-spacing: -0.01em; font-size: 17px; color: var(--text); margin-top: 4px; font-family: var(--mono); font-weight: 600; }
.drawer-kicker { display: flex; align-items: center; font-size: 13px; color: var(--muted); font-weight: 550; }
.drawer-body { overflow: auto; padding: 16px 20px 28px; display: grid; gap: 18px; align-content: start; }
.subject { padding: 10px 12px; border-radius: 10px; background: var(--panel-2); border: 1px solid var(--border); overflow-wrap: anywhere; font-size: 13px; }
.error-box { padding: 10px 12px; border-radius: 10px; border: 1px solid color-mix(in srgb, var(--red) 45%, transparent); background: color-mix(in srgb, var(--red) 9%, transparent); }
.error-box h3 { color: var(--red); }
.error-box .mono { overflow-wrap: anywhere; white-space: pre-wrap; }
.gone { padding: 10px 12px; border-radius: 10px; border: 1px dashed var(--border-2); color: var(--muted); font-size: 13px; }
.row { display: flex; align-items: center; gap: 10px; margin-bottom: 6px; }
.row h3 { margin: 0; }
.json { margin: 0; padding: 12px 14px; border-radius: 10px; background: var(--panel-2); border: 1px solid var(--border); overflow: auto; max-height: 52vh; line-height: 1.55; white-space: pre-wrap; overflow-wrap: anywhere; }
.json .k { color: var(--accent-2); } .json .s { color: var(--green); } .json .n { color: var(--amber); } .json .b { color: var(--violet); } .json .p { color: var(--faint); }
.json .cut { color: var(--red); font-style: italic; }

.token-dialog { position: fixed; inset: 0; z-index: 30; display: grid; place-items: center; background: rgba(3,6,12,0.6); }
.token-card { width: min(440px, 92vw); display: grid; gap: 12px; padding: 22px; border-radius: 14px; background: var(--panel); border: 1px solid var(--border-2); box-shadow: var(--shadow); }
.token-card p { margin: 0; font-size: 13px; }
.token-input { padding: 8px 10px; border-radius: 8px; border: 1px solid var(--border-2); background: var(--panel-2); color: var(--text); }
.token-error { color: var(--red); font-size: 13px; min-height: 1em; }
.toasts { position: fixed; right: 20px; bottom: 20px; display: grid; gap: 8px; z-index: 20; }
.toast { background: var(--text); color: var(--bg); padding: 9px 14px; border-radius: 10px; font-size: 13px; font-weight: 550; box-shadow: 0 8px 24px rgba(0,0,0,0.3); animation: rise 0.15s ease-out; }
.toast.bad { background: var(--red); color: #fff; }
@keyframes rise { from { transform: translateY(6px); opacity: 0; } to { transform: none; opacity: 1; } }

@media (max-width: 1280px) { .kpis { grid-template-columns: repeat(3, minmax(0, 1fr)); } .lower { grid-template-columns: 1fr; } }
@media (max-width: 760px) { .kpis { grid-template-columns: 1fr 1fr; } main { padding: 12px; } .topbar { padding: 10px 12px; flex-wrap: wrap; } .facts.two { grid-template-columns: max-content 1fr; } }
`;
