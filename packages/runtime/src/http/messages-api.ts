/**
 * The messages API (docs/contract.md "HTTP"): what every shard holds in flight, failing and recently
 * delivered, merged; one message's detail; and the operator's "retry now".
 *
 *   GET  /api/messages?state=inflight|failing|delivered[&table=schema.table][&limit=N]
 *   GET  /api/messages/<id>                       → the message with headers and body, or 404
 *   POST /api/messages/retry   {"id": "<id>"}     → retry that failing message now
 *   POST /api/messages/retry   {}                 → retry every failing message now
 */
import type {
  MessageCounts,
  MessageDetail,
  MessageQuery,
  MessageState,
  MessageView,
} from '../messages/message-view.js';
import { MESSAGE_STATES } from '../messages/message-view.js';
import { withTimeout } from '../async/with-timeout.js';
import { HttpError } from './respond.js';

/** What the main thread can ask one shard (its comlink proxy). */
export interface ShardMessages {
  messages(query: MessageQuery): Promise<MessageView[]>;
  message(id: string): Promise<MessageDetail | null>;
  messageCounts(): Promise<MessageCounts>;
  retryNow(id?: string): Promise<number>;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
const SHARD_TIMEOUT_MS = 5_000;

export function parseMessageQuery(params: URLSearchParams): MessageQuery {
  const state = params.get('state');
  if (state === null || !MESSAGE_STATES.includes(state as MessageState)) {
    throw new HttpError(
      400,
      `state must be one of ${MESSAGE_STATES.join(', ')}${state === null ? '' : ` (got "${state}")`}`,
    );
  }
  const limitText = params.get('limit');
  let limit = DEFAULT_LIMIT;
  if (limitText !== null) {
    limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      throw new HttpError(400, `limit must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  const table = params.get('table');
  return { state: state as MessageState, limit, ...(table ? { table } : {}) };
}

const time = (iso: string | null): number => (iso === null ? 0 : Date.parse(iso));

/** Orders merged views like each shard does: in flight by commit position, failing longest first, delivered newest first. */
function compare(state: MessageState): (a: MessageView, b: MessageView) => number {
  switch (state) {
    case 'inflight':
      return (a, b) => a.commit_lsn - b.commit_lsn || a.commit_idx - b.commit_idx;
    case 'failing':
      return (a, b) => time(a.failing_since) - time(b.failing_since);
    case 'delivered':
      return (a, b) =>
        time(b.delivered_at) - time(a.delivered_at) ||
        b.commit_lsn - a.commit_lsn ||
        b.commit_idx - a.commit_idx;
  }
}

export class MessagesApi {
  constructor(private readonly shards: () => readonly ShardMessages[]) {}

  async list(query: MessageQuery): Promise<MessageView[]> {
    const parts = await Promise.all(
      this.shards().map((s) => withTimeout(s.messages(query), SHARD_TIMEOUT_MS, 'a shard')),
    );
    return parts.flat().sort(compare(query.state)).slice(0, query.limit);
  }

  async detail(id: string): Promise<MessageDetail> {
    const found = await Promise.all(
      this.shards().map((s) => withTimeout(s.message(id), SHARD_TIMEOUT_MS, 'a shard')),
    );
    const detail = found.find((d) => d !== null);
    if (!detail)
      throw new HttpError(404, `no message ${id} is in flight, failing or among the recently delivered`);
    return detail;
  }

  async counts(): Promise<MessageCounts[]> {
    return Promise.all(this.shards().map((s) => withTimeout(s.messageCounts(), SHARD_TIMEOUT_MS, 'a shard')));
  }

  /** Retries now the failing message `id`, or every failing message; returns how many. */
  async retry(body: Record<string, unknown>): Promise<{ retried: number }> {
    const id = body.id;
    if (id !== undefined && (typeof id !== 'string' || id === ''))
      throw new HttpError(400, 'id must be a message id (a string); send {} to retry every failing message');
    const woken = await Promise.all(
      this.shards().map((s) =>
        withTimeout(id === undefined ? s.retryNow() : s.retryNow(id), SHARD_TIMEOUT_MS, 'a shard'),
      ),
    );
    const retried = woken.reduce((sum, n) => sum + n, 0);
    if (id !== undefined && retried === 0)
      throw new HttpError(404, `no failing message has id ${id} (it may have been delivered meanwhile)`);
    return { retried };
  }
}
