/** What the console shows right now; one object, changed only by the console's own modules. */
import type { MessageDetail, MessageState, MessageView } from '../messages/message-view.js';
import type { HttpAccessView } from '../http/http-access.js';
import type { Overview } from '../http/overview.js';

/** /api/overview as the HTTP server answers it: the pipeline's numbers and the port's protection. */
export type ConsoleOverview = Overview & { readonly http: HttpAccessView };

export const state = {
  tab: null as MessageState | null,
  /** Once the user picks a tab, the console stops switching to "failing" by itself. */
  userPickedTab: false,
  /** `schema.table` the messages are filtered to, or ''. */
  table: '',
  live: true,
  overview: null as ConsoleOverview | null,
  rows: [] as readonly MessageView[],
  openId: null as string | null,
  detail: null as MessageDetail | null,
  detailGone: false,
  bodyShownFor: null as string | null,
  lastOkAt: 0,
  failedPolls: 0,
  timer: undefined as ReturnType<typeof setTimeout> | undefined,
  polling: false,
};
