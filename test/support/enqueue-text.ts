/**
 * Enqueues a change given as strings, for component tests of the publishers: its JSON is written
 * into a JsonBytes as the encoder would write a body, and handed to the one `enqueue`. Not used
 * by production code.
 */
import type { RowBytesResult } from '../../packages/core/src/envelope/change-encoder.js';
import type { ChangeAction } from '../../packages/core/src/envelope/subjects.js';
import { JsonBytes } from '../../packages/core/src/values/json-bytes.js';

export interface TextChange {
  readonly seq: number;
  readonly subject: string;
  readonly action: ChangeAction;
  readonly msgId: string;
  readonly json: string;
  readonly commitTime: number;
}

interface Enqueues {
  enqueue(
    relationId: number,
    label: string,
    seq: number,
    commitTime: number,
    change: RowBytesResult,
    body: JsonBytes,
  ): void;
}

export function enqueueText(target: Enqueues, relationId: number, label: string, change: TextChange): void {
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
