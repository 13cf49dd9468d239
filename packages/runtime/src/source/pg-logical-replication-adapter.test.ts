/**
 * The one place wal2nats reaches into pg-logical-replication (pg-logical-replication-adapter.ts):
 * this test goes red when an upgrade changes what it relies on — the installed version differs
 * from the pinned one, an XLogData message no longer reaches our handler through the replaced
 * queue (but through the library's own, a promise per message), the socket is no longer paused
 * while the handler waits, or our status update no longer reaches the connection as written.
 * The service runs against a stand-in connection (an EventEmitter that plays the CopyData
 * messages pg's Connection emits); no Postgres needed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { LogicalReplicationService } from 'pg-logical-replication';
import { Wal2NatsError } from '@wal2nats/core';
import {
  PG_LOGICAL_REPLICATION_VERSION,
  ReplicationStreamAdapter,
} from './pg-logical-replication-adapter.js';

const runtimeDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Plays pg's Connection: emits 'copyData', records what is sent, pauses and resumes. */
class StandInConnection extends EventEmitter {
  readonly sent: Buffer[] = [];
  readonly stream = {
    paused: 0,
    resumed: 0,
    pause: () => {
      this.stream.paused++;
    },
    resume: () => {
      this.stream.resumed++;
    },
  };
  sendCopyFromChunk(chunk: Buffer): void {
    this.sent.push(chunk);
  }
}

/** An XLogData CopyData message: 'w', start and end LSN, send time, then the pgoutput bytes. */
function xlogData(lsn: number, payload: string): Buffer {
  const header = Buffer.alloc(25);
  header[0] = 0x77;
  header.writeUInt32BE(0, 1);
  header.writeUInt32BE(lsn, 5);
  return Buffer.concat([header, Buffer.from(payload)]);
}

/** A service subscribed through a stand-in connection, with the adapter's direct data path. */
async function subscribedService(handler: (lsn: string, data: Buffer) => Promise<void> | void) {
  const service = new LogicalReplicationService(
    {},
    { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
  );
  const connection = new StandInConnection();
  // The library's own client() opens a pg connection; the stand-in replaces only that step.
  (service as unknown as { client: () => Promise<unknown> }).client = async () => {
    (service as unknown as { _connection: unknown })._connection = connection;
    return [{}, connection];
  };
  const adapter = ReplicationStreamAdapter.of(service);
  adapter.deliverDataDirectly(handler);
  let emitted = 0;
  service.on('data', () => {
    emitted++;
  });
  const plugin = { name: 'pgoutput', start: () => new Promise(() => {}), parse: (b: Buffer) => b };
  void service.subscribe(plugin as never, 'slot', '0/0');
  await new Promise((resolve) => setImmediate(resolve));
  connection.emit('replicationStart');
  return { service, adapter, connection, emittedThroughLibrary: () => emitted };
}

describe('ReplicationStreamAdapter (pg-logical-replication internals)', () => {
  it(`runs against the pinned pg-logical-replication ${PG_LOGICAL_REPLICATION_VERSION}, pinned exactly in package.json`, () => {
    const manifest = JSON.parse(readFileSync(join(runtimeDir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    assert.equal(
      manifest.dependencies['pg-logical-replication'],
      PG_LOGICAL_REPLICATION_VERSION,
      'package.json pins the exact version the adapter was written against (no ^ or ~)',
    );
    const entry = createRequire(join(runtimeDir, 'package.json')).resolve('pg-logical-replication');
    const installed = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as {
      name: string;
      version: string;
    };
    assert.deepEqual(
      { name: installed.name, version: installed.version },
      { name: 'pg-logical-replication', version: PG_LOGICAL_REPLICATION_VERSION },
    );
  });

  it("hands each XLogData message to our handler at once, inside the connection's callback, not through the library's event", async () => {
    const received: string[] = [];
    const { connection, emittedThroughLibrary } = await subscribedService((lsn, data) => {
      received.push(`${lsn} ${data.toString()}`);
    });
    connection.emit('copyData', { chunk: xlogData(0x10, 'first') });
    assert.deepEqual(
      received,
      ['0/10 first'],
      'handled synchronously, while the read buffer still holds the bytes',
    );
    connection.emit('copyData', { chunk: xlogData(0x20, 'second') });
    assert.deepEqual(received, ['0/10 first', '0/20 second']);
    assert.equal(
      emittedThroughLibrary(),
      0,
      "the library's 'data' event (a promise per message) is not used",
    );
    assert.equal(connection.stream.paused, 0, 'the socket is not paused while the handler keeps up');
  });

  it('pauses the socket while the handler waits, in the same callback, and resumes once the queue is empty', async () => {
    const received: string[] = [];
    let release: () => void = () => {};
    const { connection } = await subscribedService((lsn) => {
      received.push(lsn);
      if (lsn === '0/10')
        return new Promise<void>((resolve) => {
          release = resolve;
        });
    });
    connection.emit('copyData', { chunk: xlogData(0x10, 'a') });
    assert.equal(connection.stream.paused, 1, 'paused inside the callback of the message that must wait');
    connection.emit('copyData', { chunk: xlogData(0x20, 'b') }); // already read: queued
    assert.deepEqual(received, ['0/10']);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(received, ['0/10', '0/20'], 'in order, after the wait');
    assert.equal(connection.stream.resumed, 1);
  });

  it('writes our status update on the replication connection as it is (the library would add 1 to the LSN)', async () => {
    const { adapter, connection } = await subscribedService(() => {});
    const status = Buffer.from('r-our-own-standby-status');
    assert.equal(adapter.sendCopyData(status), true);
    assert.deepEqual(connection.sent, [status]);
    assert.equal(
      typeof (pg.Connection.prototype as { sendCopyFromChunk?: unknown }).sendCopyFromChunk,
      'function',
      "pg's real Connection still has it",
    );
  });

  it('has nowhere to write before it is subscribed', () => {
    const service = new LogicalReplicationService(
      {},
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
    assert.equal(ReplicationStreamAdapter.of(service).sendCopyData(Buffer.from('r')), false);
  });

  it('refuses at once, with what is missing and how to fix it, a service without these internals', () => {
    const service = new LogicalReplicationService(
      {},
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
    (service as unknown as { _processQueue: unknown })._processQueue = undefined;
    assert.throws(
      () => ReplicationStreamAdapter.of(service),
      (error: unknown) => {
        assert.ok(error instanceof Wal2NatsError);
        assert.match(error.message, /_processQueue/);
        assert.match(error.hint ?? '', /pg-logical-replication 2\.5\.0 exactly/);
        return true;
      },
    );
  });
});
