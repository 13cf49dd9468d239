/**
 * Hands the XLogData messages of pg-logical-replication's flow-control queue straight to our
 * handler, keeping its backpressure: while the handler's promise (full mailboxes) is pending,
 * the socket is paused and Postgres keeps the WAL.
 *
 * Why: the library's queue awaits `emitAsync('data')` and `_acknowledge()` for every message:
 * an EventEmitter2 dispatch, three promises and a microtask turn each, ~20 % of the reader
 * thread in the drain profile (PITFALLS.md: the `pg` protocol layer and events cost ~3 µs a
 * message, pgoutput parsing ~1.3 µs). With `acknowledge.auto` false, `_acknowledge()` does
 * nothing, so calling the handler in order is the same behaviour.
 *
 * This replaces the instance's `_processQueue`, an internal method of pg-logical-replication
 * 2.5 (flow control). If the instance does not look like that version's, nothing is replaced
 * and the caller listens to 'data' as usual.
 */
import type { LogicalReplicationService } from 'pg-logical-replication';

type DataHandler = (lsn: string, data: Buffer) => Promise<void> | void;

interface FlowControlInternals {
  _messageQueue: { lsn: string; data: Buffer }[];
  _processing: boolean;
  _stop: boolean;
  _processQueue: () => void;
  _connection: { stream?: { pause?: () => void; resume?: () => void } } | null;
  config: { acknowledge: { auto: boolean }; flowControl: { enabled: boolean } };
  emit(event: string, ...args: unknown[]): boolean;
}

/** Returns false (and changes nothing) when the service is not one it knows how to drive. */
export function deliverDataDirectly(service: LogicalReplicationService, handler: DataHandler): boolean {
  const s = service as unknown as FlowControlInternals;
  if (typeof s._processQueue !== 'function' || !Array.isArray(s._messageQueue) || typeof s._processing !== 'boolean') return false;
  if (!s.config?.flowControl?.enabled || s.config.acknowledge.auto) return false;

  const work = async (): Promise<void> => {
    let paused = false;
    // `stop()` swaps in a new queue: read it afresh each time.
    while (s._messageQueue.length > 0 && !s._stop) {
      const message = s._messageQueue.shift()!;
      try {
        const pending = handler(message.lsn, message.data);
        if (pending) {
          // The handler waits (mailboxes full): no more reading from the socket until it is done.
          if (!paused) s._connection?.stream?.pause?.();
          paused = true;
          await pending;
        }
      } catch (error) {
        s.emit('error', error);
      }
    }
    s._processing = false;
    if (paused && !s._stop) s._connection?.stream?.resume?.();
  };

  s._processQueue = () => {
    if (s._processing || s._stop) return;
    s._processing = true;
    // After the protocol parser has queued every message of this socket read: one pass for all.
    // No new socket read can come before it, so the socket is paused only when the handler
    // makes the pass wait (the library paused and resumed it for every read).
    queueMicrotask(() => void work());
  };
  return true;
}
