/** The messages panel (tabs, table filter, rows) and the drawer with one message's detail. */
import type { MessageDetail, MessageState, MessageView } from '../messages/message-view.js';
import { api, ApiError, post } from './api.js';
import { $, append, h, replace, type Child } from './dom.js';
import { ago, clock, errorText, fmtBytes, fmtInt, fmtSeconds, lsnText, shortId, until } from './format.js';
import { prettyJson } from './json-view.js';
import { renderTables, type Navigation } from './overview-view.js';
import { state } from './state.js';
import { toast } from './toast.js';

const COLUMNS: Record<MessageState, readonly string[]> = {
  inflight: ['Table', 'Subject', 'Action', 'Commit', 'Deliver #', 'Published'],
  failing: ['Table', 'Subject', 'Action', 'Commit', 'Deliver #', 'Last error', 'Next attempt', ''],
  delivered: ['Table', 'Subject', 'Action', 'Commit', 'Deliver #', 'Delivered', 'Latency'],
};

const EMPTY: Record<MessageState, readonly [string, string]> = {
  inflight: [
    'Nothing in flight',
    "A message is in flight between its publish and the server's confirmation; under load that is a few milliseconds.",
  ],
  failing: [
    'Nothing is failing',
    'Every table is delivering. A message that NATS refuses shows up here with its error and deliver count.',
  ],
  delivered: ['Nothing delivered yet', 'The most recent deliveries of each shard show up here.'],
};

/** Asks for fresh data after an action (set by the console's start). */
let refresh: () => Promise<void> = async () => {};

export function onRefresh(fn: () => Promise<void>): void {
  refresh = fn;
}

export const navigation: Navigation = { selectTab, setTableFilter };

function subjectCell(subject: string): HTMLTableCellElement {
  const parts = subject.split('.');
  const tail = parts.slice(-3).join('.');
  const head = parts.slice(0, -3).join('.');
  return h(
    'td',
    { class: 'cell-subject', title: subject },
    head ? h('span', { class: 'pre', text: `${head}.` }) : null,
    tail,
  );
}

function renderRows(): void {
  const tab = state.tab;
  if (!tab) return;
  replace(
    $('message-head'),
    h(
      'tr',
      null,
      COLUMNS[tab].map((c) => h('th', { class: c === 'Deliver #' ? 'num' : null, text: c })),
    ),
  );
  const rows = state.rows;
  replace(
    $('message-rows'),
    rows.map((m) => {
      const cells: Child[] = [
        h('td', { class: 'cell-table', text: m.table }),
        subjectCell(m.subject),
        h('td', null, h('span', { class: `action ${m.action}`, text: m.action })),
        h('td', {
          class: 'cell-pos',
          title: `commit LSN ${lsnText(m.commit_lsn)}, change ${m.commit_idx} of the transaction`,
          text: `${lsnText(m.commit_lsn)} #${m.commit_idx}`,
        }),
        h(
          'td',
          { class: 'num' },
          h('span', {
            class: `deliver-count${m.deliver_count > 1 ? ' many' : ''}`,
            text: String(m.deliver_count),
          }),
        ),
      ];
      if (tab === 'inflight') cells.push(h('td', { class: 'when', text: ago(m.last_attempt_at) }));
      if (tab === 'failing') cells.push(...failingCells(m));
      if (tab === 'delivered') {
        cells.push(h('td', { class: 'when', title: clock(m.delivered_at), text: ago(m.delivered_at) }));
        const latency = m.delivered_at
          ? (Date.parse(m.delivered_at) - Date.parse(m.commit_timestamp)) / 1000
          : null;
        cells.push(
          h('td', { class: 'when', text: latency === null ? '–' : fmtSeconds(Math.max(0, latency)) }),
        );
      }
      return h(
        'tr',
        {
          class: `clickable message-row${tab === 'failing' ? ' failing' : ''}${state.openId === m.id ? ' selected' : ''}`,
          'data-id': m.id,
          onclick: () => openMessage(m.id),
        },
        cells,
      );
    }),
  );
  const empty = $('message-empty');
  if (rows.length === 0) {
    const [title, text] = EMPTY[tab];
    replace(
      empty,
      h('div', { class: 'icon', text: tab === 'failing' ? '✓' : '○' }),
      h('div', { class: 'big', text: title }),
      h('div', { text: state.table ? `Filtered to ${state.table}. ${text}` : text }),
    );
    empty.className = `empty${tab === 'failing' ? ' good' : ''}`;
  } else {
    empty.className = 'empty hidden';
  }
}

function failingCells(m: MessageView): Child[] {
  const soon = m.next_attempt_at !== null && Date.parse(m.next_attempt_at) - Date.now() < 5000;
  return [
    h('td', { class: 'cell-error last-error', title: m.last_error || '', text: m.last_error || '–' }),
    h(
      'td',
      { class: `when next-attempt${soon ? ' soon' : ''}` },
      until(m.next_attempt_at),
      m.queued_behind
        ? h('span', {
            class: 'queued',
            title: `later changes of ${m.table} waiting behind this one`,
            text: `+${fmtInt(m.queued_behind)} waiting`,
          })
        : null,
    ),
    h(
      'td',
      null,
      h(
        'button',
        {
          class: 'btn danger row-retry',
          type: 'button',
          'data-id': m.id,
          onclick: (event: Event) => {
            event.stopPropagation();
            void retry(m.id, m.table);
          },
        },
        'Retry now',
      ),
    ),
  ];
}

export function selectTab(tab: MessageState, byUser: boolean): void {
  if (byUser) state.userPickedTab = true;
  if (state.tab === tab) return;
  state.tab = tab;
  state.rows = [];
  for (const b of document.querySelectorAll('.tab'))
    b.setAttribute('aria-selected', String(b.getAttribute('data-state') === tab));
  renderRows();
  void loadRows().catch(() => {}); // the next poll shows the failure
}

export function setTableFilter(table: string): void {
  state.table = table;
  $<HTMLSelectElement>('table-filter').value = table;
  if (state.overview) renderTables(state.overview, navigation);
  void loadRows().catch(() => {});
}

export async function loadRows(): Promise<void> {
  const { tab, table } = state;
  if (!tab) return;
  const rows = await api<MessageView[]>(
    `/api/messages?state=${tab}&limit=200${table ? `&table=${encodeURIComponent(table)}` : ''}`,
  );
  if (tab !== state.tab || table !== state.table) return;
  state.rows = rows;
  renderRows();
}

function openMessage(id: string): void {
  state.openId = id;
  state.detail = null;
  state.detailGone = false;
  state.bodyShownFor = null;
  $('drawer').classList.remove('hidden');
  $('scrim').classList.remove('hidden');
  replace($('detail-body'));
  $('detail-title').textContent = shortId(id);
  renderRows();
  void loadDetail().catch(() => {});
}

export function closeMessage(): void {
  state.openId = null;
  state.detail = null;
  $('drawer').classList.add('hidden');
  $('scrim').classList.add('hidden');
  renderRows();
}

export async function loadDetail(): Promise<void> {
  const id = state.openId;
  if (!id) return;
  try {
    const detail = await api<MessageDetail>(`/api/messages/${encodeURIComponent(id)}`);
    if (state.openId !== id) return;
    state.detail = detail;
    state.detailGone = false;
  } catch (error) {
    if (state.openId !== id) return;
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    state.detailGone = true;
  }
  renderDetail();
}

function renderDetail(): void {
  const d = state.detail;
  $('detail-gone').classList.toggle('hidden', !state.detailGone);
  const retryButton = $<HTMLButtonElement>('detail-retry');
  if (!d) {
    retryButton.disabled = true;
    return;
  }
  const st = $('detail-state');
  st.textContent = d.state === 'inflight' ? 'in flight' : d.state;
  st.className = `state ${d.state}`;
  $('detail-table').textContent = `${d.table} · ${d.action}`;
  $('detail-title').textContent = `${lsnText(d.commit_lsn)} #${d.commit_idx}`;
  $('detail-subject').textContent = d.subject;
  retryButton.disabled = !(d.state === 'failing' && !state.detailGone);
  retryButton.classList.toggle('hidden', d.state !== 'failing');
  $('detail-error-box').classList.toggle('hidden', !d.last_error);
  $('detail-error').textContent = d.last_error || '';
  const facts: [string, Child][] = [
    [
      'Deliver count',
      h('span', {
        id: 'detail-deliver-count',
        class: d.deliver_count > 1 ? 'bad' : null,
        text: String(d.deliver_count),
      }),
    ],
    ['Shard', String(d.shard)],
    ['Commit LSN', `${lsnText(d.commit_lsn)} (${d.commit_lsn})`],
    ['Change', `#${d.commit_idx} of its transaction`],
    ['Committed', clock(d.commit_timestamp)],
    ['Last attempt', d.last_attempt_at ? `${clock(d.last_attempt_at)} (${ago(d.last_attempt_at)})` : '–'],
  ];
  if (d.state === 'failing') {
    facts.push([
      'Next attempt',
      h('span', {
        id: 'detail-next-attempt',
        text: d.next_attempt_at ? `${clock(d.next_attempt_at)} (${until(d.next_attempt_at)})` : 'now',
      }),
    ]);
    facts.push(['Failing since', d.failing_since ? ago(d.failing_since) : '–']);
    if (d.queued_behind !== null)
      facts.push([
        'Waiting behind',
        d.queued_behind === 0
          ? 'nothing yet'
          : fmtInt(d.queued_behind) +
            (d.queued_behind === 1 ? ' later change of ' : ' later changes of ') +
            d.table,
      ]);
  }
  if (d.delivered_at) facts.push(['Delivered', `${clock(d.delivered_at)} (${ago(d.delivered_at)})`]);
  replace(
    $('detail-facts'),
    facts.map(([term, value]) => [h('dt', { text: term }), h('dd', null, value)]),
  );
  replace(
    $('detail-headers'),
    Object.entries(d.headers).map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]),
  );
  if (state.bodyShownFor !== d.id) {
    state.bodyShownFor = d.id;
    const pre = $('detail-body');
    replace(pre, prettyJson(d.body));
    if (d.body_truncated)
      append(
        pre,
        h('span', {
          class: 'cut',
          text: `\n… cut: the first ${fmtInt(d.body.length)} of ${fmtInt(d.body_length)} characters are shown`,
        }),
      );
    $('detail-size').textContent = fmtBytes(d.body_length);
  }
}

/** "Retry now" for one failing message, or for every failing message when `id` is null. */
export async function retry(id: string | null, table?: string): Promise<void> {
  let result: { retried: number };
  try {
    result = await post<{ retried: number }>('/api/messages/retry', id ? { id } : {});
  } catch (error) {
    toast(`Retry failed: ${errorText(error)}`, true);
    return;
  }
  toast(
    id
      ? `Retrying ${table || shortId(id)} now`
      : `Retrying ${result.retried}${result.retried === 1 ? ' failing table' : ' failing tables'} now`,
  );
  // The retry runs on the shard's next loop turn; ask again shortly after.
  await new Promise((resolve) => setTimeout(resolve, 150));
  await refresh();
}
