/**
 * PingLinger decides when a core-NATS cycle's PING may wait for later cycles: only while the
 * shard is quiet, for at most `lingerMs` after the first waiting cycle, and for fewer than
 * `maxCyclesPerPing` cycles (or the shard would run out of cycles in flight while it waits).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PingLinger } from './ping-linger.js';

const OPTIONS = {
  lingerMs: 50,
  fallbackMs: 200,
  busyMessagesPerSecond: 2_000,
  windowMs: 1_000,
  maxCyclesPerPing: 3,
};

describe('PingLinger', () => {
  it('lets a quiet shard wait: the first cycle, and later ones within lingerMs of it, up to maxCyclesPerPing', () => {
    const linger = new PingLinger(OPTIONS);
    assert.equal(linger.mayWait(1_000, 1, 0, 1_000), true, 'the first cycle waits');
    assert.equal(linger.mayWait(1_020, 1, 1, 1_000), true, 'the second, 20 ms later, waits too');
    assert.equal(linger.mayWait(1_040, 1, 2, 1_000), false, 'the third sends the PING (maxCyclesPerPing)');
    assert.equal(linger.mayWait(2_000, 1, 0, 2_000), true);
    assert.equal(linger.mayWait(2_050, 1, 1, 2_000), false, 'lingerMs after the first: sends the PING');
    assert.equal(linger.mayWait(2_049, 1, 1, 2_000), true, 'just before: waits');
  });

  it('never lets a busy shard wait: from the moment a window reaches the rate, and in the window after', () => {
    const linger = new PingLinger(OPTIONS);
    assert.equal(linger.mayWait(0, 1_000, 0, 0), true, '1,000 messages: not busy yet');
    assert.equal(linger.mayWait(100, 1_000, 0, 100), false, '2,000 within the window: busy at once');
    assert.equal(linger.mayWait(1_000, 1, 0, 1_000), false, 'the last full window was busy');
    assert.equal(linger.mayWait(2_000, 1, 0, 2_000), true, 'a quiet window after it: waits again');
  });

  it('counts a quiet spell longer than a window at its real length', () => {
    const linger = new PingLinger(OPTIONS);
    linger.mayWait(0, 1_500, 0, 0);
    // The first window's 1,500 messages over 10 s are 150/s: quiet.
    assert.equal(linger.mayWait(10_000, 1_500, 0, 10_000), true);
  });
});
