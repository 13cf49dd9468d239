import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';

const MIDDLE = (): number => 0.5; // no jitter either way

describe('backoffDelayMs', () => {
  it('defaults to about 1 s doubling up to about 3 minutes with ±20% jitter (docs/contract.md "Delivery")', () => {
    assert.deepEqual(DEFAULT_BACKOFF, { initialMs: 1000, maxMs: 180_000, jitter: 0.2 });
  });

  it('starts at about 1 s and doubles each attempt', () => {
    const delays = Array.from({ length: 8 }, (_, i) => backoffDelayMs(i + 1, DEFAULT_BACKOFF, MIDDLE));
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000]);
  });

  it('caps at maxMs', () => {
    assert.equal(backoffDelayMs(9, DEFAULT_BACKOFF, MIDDLE), 180_000);
    assert.equal(backoffDelayMs(50, DEFAULT_BACKOFF, MIDDLE), 180_000);
    assert.equal(backoffDelayMs(1_000_000, DEFAULT_BACKOFF, MIDDLE), 180_000);
    assert.equal(backoffDelayMs(Number.MAX_SAFE_INTEGER, DEFAULT_BACKOFF, MIDDLE), 180_000);
    const policy: BackoffPolicy = { initialMs: 1000, maxMs: 30_000, jitter: 0 };
    assert.equal(backoffDelayMs(5, policy), 16_000);
    assert.equal(backoffDelayMs(6, policy), 30_000);
  });

  it('never exceeds maxMs, even with the largest jitter', () => {
    for (let attempt = 1; attempt <= 40; attempt++) {
      assert.ok(backoffDelayMs(attempt, DEFAULT_BACKOFF, () => 0.999_999) <= 180_000, `attempt ${attempt}`);
    }
  });

  it('treats attempt 0 and negative attempts as the first retry', () => {
    assert.equal(backoffDelayMs(0, DEFAULT_BACKOFF, MIDDLE), 1000);
    assert.equal(backoffDelayMs(-5, DEFAULT_BACKOFF, MIDDLE), 1000);
  });

  it('keeps the jitter within ±jitter of the base delay, drawn from the injected random', () => {
    assert.equal(
      backoffDelayMs(1, DEFAULT_BACKOFF, () => 0),
      800,
    );
    assert.equal(
      backoffDelayMs(3, DEFAULT_BACKOFF, () => 0),
      3200,
    );
    assert.equal(
      backoffDelayMs(3, DEFAULT_BACKOFF, () => 0.25),
      3600,
    );
    assert.ok(Math.abs(backoffDelayMs(3, DEFAULT_BACKOFF, () => 0.999_999) - 4800) <= 1);
    let state = 7;
    const random = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let attempt = 1; attempt <= 12; attempt++) {
      const base = Math.min(180_000, 1000 * 2 ** (attempt - 1));
      for (let k = 0; k < 200; k++) {
        const d = backoffDelayMs(attempt, DEFAULT_BACKOFF, random);
        assert.ok(Number.isInteger(d));
        assert.ok(
          d >= Math.floor(base * 0.8) && d <= Math.min(180_000, Math.ceil(base * 1.2)),
          `attempt ${attempt}: ${d}`,
        );
      }
    }
  });

  it('spreads retries of the same attempt (jitter is really applied)', () => {
    let state = 99;
    const random = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const delays = new Set(Array.from({ length: 100 }, () => backoffDelayMs(4, DEFAULT_BACKOFF, random)));
    assert.ok(delays.size > 20, `only ${delays.size} distinct delays`);
  });

  it('uses Math.random when no random is given, within bounds', () => {
    for (let k = 0; k < 100; k++) {
      const d = backoffDelayMs(2);
      assert.ok(d >= 1600 && d <= 2400, String(d));
    }
  });

  it('follows a custom policy and never returns less than 1 ms', () => {
    const policy: BackoffPolicy = { initialMs: 250, maxMs: 5000, jitter: 0.5 };
    assert.equal(backoffDelayMs(1, policy, MIDDLE), 250);
    assert.equal(
      backoffDelayMs(2, policy, () => 0),
      250,
    );
    assert.equal(
      backoffDelayMs(3, policy, () => 0),
      500,
    );
    assert.equal(backoffDelayMs(10, policy, MIDDLE), 5000);
    assert.equal(backoffDelayMs(1, { initialMs: 0, maxMs: 10, jitter: 0 }), 1);
  });
});
