/**
 * The console's script (served as /console/console.js, an ES module, with the modules it
 * imports): reads /api/overview and /api/messages every 2 s and posts /api/messages/retry. Built
 * by `tsc` from this folder with the DOM library (tsconfig.json here); the server serves the
 * compiled files from dist/console (console-assets.ts). Driven in headless Chromium by
 * test/console.test.ts.
 */
import { hookChart } from './charts.js';
import { $ } from './dom.js';
import { ago, errorText } from './format.js';
import {
  closeMessage,
  loadDetail,
  loadRows,
  navigation,
  onRefresh,
  retry,
  selectTab,
  setTableFilter,
} from './messages-view.js';
import { renderOverview } from './overview-view.js';
import { api, ApiError, whenUnauthorized } from './api.js';
import type { MessageState } from '../messages/message-view.js';
import { state, type ConsoleOverview } from './state.js';
import { askForToken } from './token-dialog.js';
import { toast } from './toast.js';

const POLL_MS = 2000;

function updateLiveState(): void {
  const el = $('live-state');
  const label = $('updated');
  el.classList.toggle('paused', !state.live);
  el.classList.toggle('stale', state.live && state.failedPolls > 1);
  if (!state.live) label.textContent = 'paused';
  else if (state.failedPolls > 1)
    label.textContent = `cannot reach wal2nats${state.lastOkAt ? ` · last data ${ago(new Date(state.lastOkAt).toISOString())}` : ''}`;
  else if (state.lastOkAt)
    label.textContent = `live · updated ${ago(new Date(state.lastOkAt).toISOString())}`;
}

async function poll(): Promise<void> {
  if (state.polling) return;
  state.polling = true;
  try {
    const o = await api<ConsoleOverview>('/api/overview');
    state.overview = o;
    renderOverview(o, navigation);
    await Promise.all([loadRows(), loadDetail()]);
    state.lastOkAt = Date.now();
    state.failedPolls = 0;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // the token dialog is open
    state.failedPolls++;
    if (state.failedPolls === 2) toast(`Cannot reach wal2nats: ${errorText(error)}`, true);
  } finally {
    state.polling = false;
    updateLiveState();
  }
}

function schedule(): void {
  clearTimeout(state.timer);
  if (!state.live) return;
  state.timer = setTimeout(() => void poll().then(schedule), POLL_MS);
}

function init(): void {
  for (const id of ['throughput', 'lag', 'latency', 'mailbox', 'backoff']) hookChart(id);
  $('kpi-throughput').classList.add('c-blue');
  $('kpi-lag').classList.add('c-violet');
  $('kpi-latency').classList.add('c-cyan');
  $('kpi-mailbox').classList.add('c-green');
  $('kpi-backoff').classList.add('c-red');
  for (const b of document.querySelectorAll('.tab')) {
    b.addEventListener('click', () => selectTab(b.getAttribute('data-state') as MessageState, true));
  }
  $<HTMLSelectElement>('table-filter').addEventListener('change', (e) =>
    setTableFilter((e.target as HTMLSelectElement).value),
  );
  $('retry-all').addEventListener('click', () => void retry(null));
  $('detail-retry').addEventListener('click', () => {
    if (state.detail) void retry(state.detail.id, state.detail.table);
  });
  $('detail-close').addEventListener('click', closeMessage);
  $('scrim').addEventListener('click', closeMessage);
  $('detail-copy').addEventListener('click', () => {
    if (!state.detail) return;
    navigator.clipboard.writeText(state.detail.body).then(
      () => toast('Body copied'),
      () => toast('The browser refused the clipboard', true),
    );
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.openId) closeMessage();
  });
  $('live-toggle').addEventListener('click', () => {
    state.live = !state.live;
    $('live-toggle').textContent = state.live ? 'Pause' : 'Resume';
    updateLiveState();
    if (state.live) void poll().then(schedule);
    else clearTimeout(state.timer);
  });
  onRefresh(poll);
  whenUnauthorized(() => askForToken(() => void poll()));
  setInterval(updateLiveState, 1000);
  void poll().then(schedule);
}

// A module script runs after the document is parsed.
init();
