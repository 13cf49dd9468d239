/**
 * --http-hide-row-data: a message's detail without its row values, for databases with personal
 * data. `record` and `changes` are replaced by a note; the action and the metadata stay (table,
 * commit position, idempotency key, and the key values in `metadata.record_pks`), which is what
 * an operator needs to find the row in the database. The list (`/api/messages`) holds no row
 * values to begin with.
 */
import type { MessageDetail } from '../messages/message-view.js';

export const HIDDEN = 'hidden (--http-hide-row-data); the key is in metadata.record_pks';

export function withoutRowValues(detail: MessageDetail): MessageDetail {
  let parsed: unknown;
  try {
    parsed = JSON.parse(detail.body);
  } catch {
    parsed = null; // a body cut at the detail's size limit: its metadata (at the end) is cut too
  }
  const hidden: Record<string, unknown> = {};
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
    for (const [key, value] of Object.entries(parsed))
      hidden[key] = (key === 'record' || key === 'changes') && value !== null ? HIDDEN : value;
  } else {
    hidden.record = HIDDEN;
    hidden.metadata = 'not shown: the body was longer than the detail shows';
  }
  const body = JSON.stringify(hidden);
  return { ...detail, body, body_truncated: false, body_length: body.length };
}
