/** A JetStream stream read back against the changes a ChaosWriter committed. */
import { changeKey } from './chaos-writer.js';
import { orderViolations, type Envelope } from './envelope.js';

export interface StoredCheck {
  /** Committed changes the stream does not hold. */
  readonly missing: string[];
  /** Changes stored more than once (each extra copy). */
  readonly twice: string[];
  /** Per-table commit order broken, in stream order. */
  readonly violations: string[];
}

export function checkStored(
  messages: readonly { readonly data: unknown }[],
  committed: readonly string[],
): StoredCheck {
  const envelopes = messages.map((m) => m.data as Envelope);
  const seen = new Set<string>();
  const twice = envelopes
    .map((e) => changeKey(e.metadata.table_name, e.action, e.record))
    .filter((k) => (seen.has(k) ? true : (seen.add(k), false)));
  return { missing: committed.filter((k) => !seen.has(k)), twice, violations: orderViolations(envelopes) };
}
