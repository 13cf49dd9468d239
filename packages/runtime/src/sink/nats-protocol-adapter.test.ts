/**
 * The one place wal2nats reaches into nats.js (nats-protocol-adapter.ts): this test goes red
 * when an upgrade changes what it relies on — the installed versions differ from the pinned
 * ones, or the bytes handed to the adapter no longer reach the socket as they are, ahead of a
 * later flush's PING — so that an upgrade is a failing test, not a silent slowdown. A tiny
 * stand-in for the server (INFO, PONG) records what the client writes; no nats-server needed.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { Wal2NatsError } from '@wal2nats/core';
import { NATS_CLIENT_VERSION, NatsProtocolAdapter } from './nats-protocol-adapter.js';

const runtimeDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The version of the package `name` as resolved from `fromDir`'s package. */
function installedVersion(name: string, fromDir: string): string {
  const require = createRequire(join(fromDir, 'package.json'));
  let dir = dirname(require.resolve(name));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version: string;
      };
      if (manifest.name === name) return manifest.version;
    } catch {
      /* not the package root yet */
    }
    const parent = dirname(dir);
    assert.notEqual(parent, dir, `no package.json of ${name}`);
    dir = parent;
  }
}

/** A stand-in NATS server: sends INFO, answers PING with PONG, records every byte received. */
async function standInServer(): Promise<{ server: Server; port: number; received: () => string }> {
  let bytes = '';
  const server = createServer((socket: Socket) => {
    socket.write(
      `INFO {"server_id":"stand-in","version":"2.9.10","proto":1,"headers":true,"max_payload":1048576}\r\n`,
    );
    socket.on('data', (chunk) => {
      bytes += chunk.toString('latin1');
      for (const _ of chunk.toString('latin1').matchAll(/PING\r\n/g)) socket.write('PONG\r\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return { server, port: address.port, received: () => bytes };
}

describe('NatsProtocolAdapter (nats.js internals)', () => {
  const servers: Server[] = [];
  after(() => {
    for (const server of servers) server.close();
  });

  it(`runs against the pinned NATS client ${NATS_CLIENT_VERSION}: transport-node and its nats-core, pinned exactly in package.json`, () => {
    const manifest = JSON.parse(readFileSync(join(runtimeDir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    assert.equal(
      manifest.dependencies['@nats-io/transport-node'],
      NATS_CLIENT_VERSION,
      'package.json pins the exact version the adapter was written against (no ^ or ~)',
    );
    assert.equal(installedVersion('@nats-io/transport-node', runtimeDir), NATS_CLIENT_VERSION);
    const transportDir = dirname(
      dirname(createRequire(join(runtimeDir, 'package.json')).resolve('@nats-io/transport-node')),
    );
    assert.equal(
      installedVersion('@nats-io/nats-core', transportDir),
      NATS_CLIENT_VERSION,
      'the protocol handler lives in @nats-io/nats-core',
    );
  });

  it("hands bytes to the socket as they are, after what was queued before and ahead of a later flush's PING", async () => {
    const { server, port, received } = await standInServer();
    servers.push(server);
    const nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false });
    try {
      const adapter = NatsProtocolAdapter.of(nc);
      nc.publish('before', 'x');
      const frame = Buffer.from('HPUB fast.path 22 24\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n', 'latin1');
      adapter.send(frame);
      await nc.flush();
      const written = received();
      const before = written.indexOf('PUB before 1\r\nx\r\n');
      const fast = written.indexOf(frame.toString('latin1'));
      const ping = written.lastIndexOf('PING\r\n');
      assert.ok(
        before >= 0 && fast > before,
        `the frame follows the earlier publish: ${JSON.stringify(written)}`,
      );
      assert.ok(ping > fast, "the flush's PING follows the frame, so its PONG confirms it");
    } finally {
      await nc.close();
    }
  });

  it("writes a queued chunk and the next flush's PING in one socket write, the chunk first", async () => {
    const { server, port, received } = await standInServer();
    servers.push(server);
    const nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false });
    try {
      const adapter = NatsProtocolAdapter.of(nc);
      // What nats.js hands its transport, write by write (TCP may merge or split them on the way).
      const transport = (nc as unknown as { protocol: { transport: { send(frame: Uint8Array): void } } })
        .protocol.transport;
      const writes: string[] = [];
      const send = transport.send.bind(transport);
      transport.send = (frame: Uint8Array) => {
        writes.push(Buffer.from(frame).toString('latin1'));
        send(frame);
      };
      const frame = Buffer.from('HPUB one.write 22 24\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n', 'latin1');
      adapter.queueBeforePing(frame);
      await nc.flush();
      assert.deepEqual(writes, [`${frame.toString('latin1')}PING\r\n`]);
      assert.ok(received().includes(`${frame.toString('latin1')}PING\r\n`), 'the server got both');
    } finally {
      await nc.close();
    }
  });

  it('refuses at once, with what is missing and how to fix it, a client without these internals', () => {
    const fake = { protocol: { sendCommand() {} } } as unknown as Parameters<
      typeof NatsProtocolAdapter.of
    >[0];
    assert.throws(
      () => NatsProtocolAdapter.of(fake),
      (error: unknown) => {
        assert.ok(error instanceof Wal2NatsError);
        assert.match(error.message, /protocol\.flushPending/);
        assert.match(
          error.hint ?? '',
          new RegExp(`transport-node ${NATS_CLIENT_VERSION.replaceAll('.', '\\.')} exactly`),
        );
        return true;
      },
    );
  });
});
