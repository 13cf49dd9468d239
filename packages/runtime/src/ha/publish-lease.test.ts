import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { PublishLease } from './publish-lease.js';

describe('PublishLease', () => {
  it('allows publishing only before its deadline, never moves it earlier, and revokes at once', () => {
    const lease = new PublishLease(PublishLease.allocate());
    assert.equal(lease.mayPublish(1_000), false, 'a new lease allows nothing');
    lease.extendTo(5_000);
    assert.equal(lease.mayPublish(4_999), true);
    assert.equal(lease.mayPublish(5_000), false, 'the deadline itself is too late');
    lease.extendTo(3_000);
    assert.equal(lease.validUntil, 5_000, 'an older proof does not shorten the lease');
    lease.revoke();
    assert.equal(lease.mayPublish(1_000), false);
  });

  it('is shared: another thread sees the deadline the reader writes', async () => {
    const buffer = PublishLease.allocate();
    new PublishLease(buffer).extendTo(Date.now() + 60_000);
    const seen = await new Promise<boolean>((resolve, reject) => {
      const worker = new Worker(
        `const { workerData, parentPort } = require('node:worker_threads');
         const view = new BigInt64Array(workerData, 0, 1);
         parentPort.postMessage(Date.now() < Number(Atomics.load(view, 0)));`,
        { eval: true, workerData: buffer },
      );
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    assert.equal(seen, true);
  });
});
