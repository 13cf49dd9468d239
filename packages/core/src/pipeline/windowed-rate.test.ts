import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WindowedRate } from './windowed-rate.js';

describe('WindowedRate', () => {
  it('gives the rate of each full window when the next one begins, and the current one so far', () => {
    const rate = new WindowedRate(1_000);
    assert.equal(rate.roll(0, 0), true, 'the first call begins a window');
    assert.equal(rate.lastRate, 0);
    assert.equal(rate.roll(500, 300), false, 'within the window');
    assert.equal(rate.soFar(300), 300, '300 in the window so far: 300 per second of a whole window');
    assert.equal(rate.roll(1_000, 500), true);
    assert.equal(rate.lastRate, 500);
    assert.equal(rate.soFar(500), 0, 'a new window counts from its start');
  });

  it('counts a window longer than windowMs at its real length', () => {
    const rate = new WindowedRate(100);
    rate.roll(0, 0);
    assert.equal(rate.roll(10_000, 50), true);
    assert.equal(rate.lastRate, 5, '50 over 10 s, not over 100 ms');
  });
});
