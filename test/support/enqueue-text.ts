/**
 * Enqueues a change given as strings, for component tests of the publishers: its JSON is written
 * into a JsonBytes as the encoder would write a body, and handed to the one `enqueue`. Not used
 * by production code.
 */
import type { ChangeQueue, QueuedChange } from '../../packages/runtime/src/shard/outgoing-message.js';
import { JsonBytes } from '../../packages/core/src/values/json-bytes.js';

export type TextChange = QueuedChange;

export function enqueueText(
  target: ChangeQueue,
  relationId: number,
  label: string,
  change: TextChange,
): void {
  const body = new JsonBytes(64);
  body.text(change.json);
  const { subject, action, msgId } = change;
  target.enqueue(
    relationId,
    label,
    change.seq,
    change.commitTime,
    { subject, action, msgId, msgIdStart: -1, msgIdEnd: -1 },
    body,
  );
}
