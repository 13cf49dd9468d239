/**
 * readStreamTail against a real nats-server whose JetStream API does not answer: what a shard
 * sees for a moment when the node of the JetStream meta leader dies (the cluster order test
 * caught wal2nats exiting on that: the account check made when the JetStream manager was
 * created was outside the retry). Here a server without JetStream answers every API request
 * with "no responders", a stand-in for an API that answers nothing for a while.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { createLogger } from '../packages/runtime/src/log/logger.js';
import { readStreamTail } from '../packages/runtime/src/sink/stream-tail.js';
import { startNats, type NatsServer } from './harness/index.js';

let nats: NatsServer;
let nc: NatsConnection;

before(async () => {
  nats = await startNats({ jetstream: false });
  nc = await nats.connect();
});

after(async () => {
  await nc?.close();
  await nats?.dispose();
});

describe("a stream's tail", () => {
  it('is waited for while the JetStream API does not answer, and given up only when stopped', async () => {
    const warnings: string[] = [];
    const log = createLogger({ level: 'error', format: 'json' });
    const counting = { ...log, warn: (message: string) => warnings.push(message), child: () => counting };
    let stopped = false;
    const tail = await readStreamTail(nc, 'NOWHERE', 'x', counting, () => {
      // Stop once it has waited out two failed reads.
      if (warnings.length >= 2) stopped = true;
      return stopped;
    });
    assert.equal(tail, null, 'stopped while waiting, not a tail and not an error');
    assert.ok(warnings.length >= 2, `waited, saying why: ${warnings.join('; ')}`);
    assert.match(warnings[0]!, /waiting for the JetStream stream to answer/);
  });
});
