/**
 * Unit tests of the reader's hand-over pacing (handover-pacer.ts): a linger while changes
 * trickle, none once they flow at the busy rate, and back to the linger after a quiet spell.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HandoverPacer } from './handover-pacer.js';

const options = { lingerMs: 10, busyChangesPerSecond: 5_000, windowMs: 100 };

describe('HandoverPacer', () => {
  it('lingers while changes trickle (100 per second)', () => {
    const pacer = new HandoverPacer(options);
    for (let t = 0, routed = 0; t < 2_000; t += 10, routed += 1) assert.equal(pacer.delayMs(t, routed), 10, `at ${t} ms`);
  });

  it('hands over at once from the window in which the busy rate is reached, and lingers again after a quiet window', () => {
    const pacer = new HandoverPacer(options);
    let routed = 0;
    assert.equal(pacer.delayMs(0, routed), 10);
    // 20,000 changes/s: 20 per ms; 500 in a 100 ms window is the busy rate.
    let firstAtOnce = -1;
    for (let t = 1; t <= 300; t++) {
      routed += 20;
      const delay = pacer.delayMs(t, routed);
      if (delay === 0 && firstAtOnce < 0) firstAtOnce = t;
      if (firstAtOnce >= 0) assert.equal(delay, 0, `at ${t} ms, once busy`);
    }
    assert.ok(firstAtOnce > 0 && firstAtOnce <= 25, `busy after 500 changes (25 ms at 20 per ms), was at ${firstAtOnce} ms`);
    // Quiet: one change 150 ms later; the window before was busy, this one is not.
    assert.equal(pacer.delayMs(450, routed + 1), 10);
  });

  it('a steady rate just under the busy rate lingers, just over it does not', () => {
    for (const [perMs, expected] of [[4.9, 10], [5.1, 0]] as const) {
      const pacer = new HandoverPacer(options);
      let delay = -1;
      for (let t = 0; t <= 1_000; t++) delay = pacer.delayMs(t, Math.floor(t * perMs));
      assert.equal(delay, expected, `${perMs * 1000} changes/s`);
    }
  });
});
