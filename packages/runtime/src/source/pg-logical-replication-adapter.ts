/**
 * Every use wal2nats makes of pg-logical-replication's internals, in one place (written against
 * 2.5.0, pinned exactly in package.json; pg-logical-replication-adapter.test.ts fails when the
 * installed version differs or the fast path is no longer taken). When a service does not have
 * the internals below, `ReplicationStreamAdapter.of` refuses it at once with a clear error
 * (exit 1) instead of falling back: the status writer has no correct fallback (the library's
 * `acknowledge()` confirms one byte too far), and the data path's fallback is a silent 20 %.
 *
 * 1. **Our own Standby Status Update** (`_connection.sendCopyFromChunk`, pg's Connection): the
 *    library's `acknowledge(lsn)` sends `lsn + 1`, and a commit record can start exactly at the
 *    previous commit's end LSN, so confirming one byte past it would make Postgres skip that
 *    transaction on restart (docs/architecture.md, "Status updates are ours").
 *
 * 2. **Handing XLogData straight to our handler** (`_processQueue`, `_messageQueue`,
 *    `_processing`, `_stop`, `_connection.stream`), keeping its backpressure: while the
 *    handler's promise (full mailboxes) is pending, the socket is paused and Postgres keeps the
 *    WAL. Why: the library's flow-control queue awaits `emitAsync('data')` and `_acknowledge()`
 *    for every message: an EventEmitter2 dispatch, three promises and a microtask turn each,
 *    ~20 % of the reader thread in the drain profile (docs/pitfalls.md: the `pg` protocol layer
 *    and events cost ~3 µs a message, pgoutput parsing ~1.3 µs). With `acknowledge.auto` false,
 *    `_acknowledge()` does nothing, so calling the handler in order is the same behaviour.
 *
 *    Each message is handed over at once, inside the protocol parser's callback, never later:
 *    the message is a view into pg-protocol's read buffer, which the parser overwrites when it
 *    merges the next socket read into it (a message cut by a read boundary is moved to the
 *    buffer's start, and the new bytes copied after it). Handing messages over in a microtask
 *    after the read was not enough: after a pause, `resume()` emits every buffered read in one
 *    synchronous loop, so the queued views of one read were overwritten by the next before the
 *    microtask ran, and the reader routed another row's bytes under a message's position (the
 *    huge-transaction test of test/changes.test.ts caught it, 1 run in 3 with the smallest
 *    mailbox). When the handler has to wait (full mailboxes), the socket is paused right there,
 *    inside the callback: the read being parsed is the last one until the queue is empty, so
 *    its queued views stay intact.
 */
import pg from 'pg';
import { ErrorCode, Wal2NatsError } from '@wal2nats/core';
import type { LogicalReplicationService } from 'pg-logical-replication';

/** The version these internals were read from. */
export const PG_LOGICAL_REPLICATION_VERSION = '2.5.0';

export type DataHandler = (lsn: string, data: Buffer) => Promise<void> | void;

interface ServiceInternals {
  _messageQueue: { lsn: string; data: Buffer }[];
  _processing: boolean;
  _stop: boolean;
  _processQueue: () => void;
  _connection: {
    sendCopyFromChunk(chunk: Buffer): void;
    stream?: { pause?: () => void; resume?: () => void };
  } | null;
  config: { acknowledge: { auto: boolean }; flowControl: { enabled: boolean } };
  emit(event: string, ...args: unknown[]): boolean;
}

/** The internals `service` lacks (empty when it looks like 2.5.0's). */
function missingInternals(service: LogicalReplicationService): string[] {
  const s = service as unknown as Partial<ServiceInternals>;
  const missing: string[] = [];
  if (typeof s._processQueue !== 'function') missing.push('_processQueue()');
  if (!Array.isArray(s._messageQueue)) missing.push('_messageQueue');
  if (typeof s._processing !== 'boolean') missing.push('_processing');
  if (typeof s._stop !== 'boolean') missing.push('_stop');
  if (!('_connection' in s)) missing.push('_connection');
  if (typeof (pg.Connection.prototype as { sendCopyFromChunk?: unknown }).sendCopyFromChunk !== 'function')
    missing.push("pg's Connection.sendCopyFromChunk()");
  return missing;
}

export class ReplicationStreamAdapter {
  private constructor(private readonly s: ServiceInternals) {}

  /**
   * The adapter of `service` (configured with flow control and without automatic
   * acknowledgements); throws a Wal2NatsError when the installed library lacks the internals.
   */
  static of(service: LogicalReplicationService): ReplicationStreamAdapter {
    const missing = missingInternals(service);
    if (missing.length > 0) {
      throw new Wal2NatsError(
        ErrorCode.Internal,
        `the installed pg-logical-replication lacks ${missing.join(', ')}, the internals wal2nats reads the stream through (checked against ${PG_LOGICAL_REPLICATION_VERSION})`,
        `install pg-logical-replication ${PG_LOGICAL_REPLICATION_VERSION} exactly (as wal2nats's package.json pins it); to move to another version, adapt packages/runtime/src/source/pg-logical-replication-adapter.ts until its test passes`,
      );
    }
    const s = service as unknown as ServiceInternals;
    if (!s.config?.flowControl?.enabled || s.config.acknowledge.auto) {
      throw new Wal2NatsError(
        ErrorCode.Internal,
        'the replication service must run with flowControl enabled and acknowledge.auto off (backpressure, and nothing confirmed but what was delivered)',
      );
    }
    return new ReplicationStreamAdapter(s);
  }

  /**
   * Sends `chunk` (a CopyData payload: our Standby Status Update) on the replication
   * connection. Returns false when there is no connection (not subscribed, or stopped).
   */
  sendCopyData(chunk: Buffer): boolean {
    const connection = this.s._connection;
    if (!connection) return false;
    connection.sendCopyFromChunk(chunk);
    return true;
  }

  /** Hands every XLogData message to `handler`, in order, instead of the 'data' event (see the top). */
  deliverDataDirectly(handler: DataHandler): void {
    const s = this.s;
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
  }
}
