/**
 * Hands the XLogData messages of pg-logical-replication's flow-control queue straight to our
 * handler, keeping its backpressure: while the handler's promise (full mailboxes) is pending,
 * the socket is paused and Postgres keeps the WAL.
 *
 * Why: the library's queue awaits `emitAsync('data')` and `_acknowledge()` for every message:
 * an EventEmitter2 dispatch, three promises and a microtask turn each, ~20 % of the reader
 * thread in the drain profile (docs/pitfalls.md: the `pg` protocol layer and events cost ~3 µs a
 * message, pgoutput parsing ~1.3 µs). With `acknowledge.auto` false, `_acknowledge()` does
 * nothing, so calling the handler in order is the same behaviour.
 *
 * Each message is handed over at once, inside the protocol parser's callback, never later: the
 * message is a view into pg-protocol's read buffer, which the parser overwrites when it merges
 * the next socket read into it (a message cut by a read boundary is moved to the buffer's start,
 * and the new bytes copied after it). Handing messages over in a microtask after the read was
 * not enough: after a pause, `resume()` emits every buffered read in one synchronous loop, so
 * the queued views of one read were overwritten by the next before the microtask ran, and the
 * reader routed another row's bytes under a message's position (the huge-transaction test of
 * test/changes.test.ts caught it, 1 run in 3 with the smallest mailbox). When the handler has
 * to wait (full mailboxes), the socket is paused right there, inside the callback: the read
 * being parsed is the last one until the queue is empty, so its queued views stay intact.
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

  let paused = false;
  /** Hands over queued messages until the queue is empty or the handler has to wait. */
  const drain = (): void => {
    // `stop()` swaps in a new queue: read it afresh each time.
    while (s._messageQueue.length > 0 && !s._stop) {
      const message = s._messageQueue.shift()!;
      let pending: Promise<void> | void;
      try {
        pending = handler(message.lsn, message.data);
      } catch (error) {
        s.emit('error', error);
        continue;
      }
      if (pending) {
        // The handler waits (mailboxes full): no more socket reads until the queue is empty.
        if (!paused) s._connection?.stream?.pause?.();
        paused = true;
        pending.then(drain, (error: unknown) => {
          s.emit('error', error);
          drain();
        });
        return;
      }
    }
    s._processing = false;
    if (paused && !s._stop) s._connection?.stream?.resume?.();
    paused = false;
  };

  s._processQueue = () => {
    if (s._processing || s._stop) return;
    s._processing = true;
    drain();
  };
  return true;
}
