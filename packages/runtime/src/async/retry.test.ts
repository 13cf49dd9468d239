import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { abortableDelay } from './abortable-delay.js';
import { retry, type RetryWait } from './retry.js';

class Transient extends Error {}
class ForGood extends Error {}

const POLICY = { initialMs: 100, maxMs: 1000, jitter: 0.2 };
const MIDDLE = (): number => 0.5;
const retryable = (error: unknown): boolean => error instanceof Transient;

/**
 * A wait that records each delay and returns at once, so the tests do not sleep; past 20 waits it
 * throws, so that a loop that never stops fails its test instead of spinning forever.
 */
function recordingWait(): { delays: number[]; wait: (ms: number) => Promise<void> } {
  const delays: number[] = [];
  return {
    delays,
    wait: async (ms) => {
      if (delays.length >= 20) throw new Error('waited without end');
      delays.push(ms);
    },
  };
}

/** An operation that fails `failures` times with `error`, then resolves with 'done' (refusing for good after 20 calls). */
function failing(
  failures: number,
  error: () => Error = () => new Transient('not yet'),
): { calls: number[]; operation: (attempt: number) => Promise<string> } {
  const calls: number[] = [];
  return {
    calls,
    operation: async (attempt) => {
      calls.push(attempt);
      if (calls.length > 20) throw new ForGood('retried without end');
      if (calls.length <= failures) throw error();
      return 'done';
    },
  };
}

describe('retry', () => {
  it('resolves with the first success, retrying transient failures with attempts numbered from 1', async () => {
    const { calls, operation } = failing(3);
    const { wait } = recordingWait();
    const seen: RetryWait[] = [];
    const value = await retry(operation, {
      backoff: POLICY,
      retryable,
      wait,
      random: MIDDLE,
      onRetry: (w) => seen.push(w),
    });
    assert.equal(value, 'done');
    assert.deepEqual(calls, [1, 2, 3, 4]);
    assert.deepEqual(
      seen.map((w) => w.attempt),
      [1, 2, 3],
    );
    assert.ok(seen.every((w) => w.error instanceof Transient));
  });

  it('gives up at once on an error that is not retryable, and throws that very error', async () => {
    const refusal = new ForGood('password refused');
    const { calls, operation } = failing(5, () => refusal);
    const { delays, wait } = recordingWait();
    await assert.rejects(
      retry(operation, { backoff: POLICY, retryable, wait }),
      (error) => error === refusal,
    );
    assert.deepEqual(calls, [1]);
    assert.deepEqual(delays, []);
  });

  it('gives up when a retried operation then fails for good', async () => {
    let calls = 0;
    const operation = async (): Promise<string> => {
      calls++;
      throw calls < 3 ? new Transient('not yet') : new ForGood('gone');
    };
    const { delays, wait } = recordingWait();
    await assert.rejects(retry(operation, { backoff: POLICY, retryable, wait, random: MIDDLE }), ForGood);
    assert.equal(calls, 3);
    assert.deepEqual(delays, [100, 200]);
  });

  it('waits longer after each failure, up to the policy maximum', async () => {
    const { operation } = failing(6);
    const { delays, wait } = recordingWait();
    const reported: number[] = [];
    await retry(operation, {
      backoff: POLICY,
      retryable,
      wait,
      random: MIDDLE,
      onRetry: (w) => reported.push(w.delayMs),
    });
    assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
    assert.deepEqual(reported, delays, 'the delay logged is the delay waited');
  });

  it(
    'stops waiting and resolves null when the signal aborts during a wait, without another attempt',
    { timeout: 10_000 },
    async () => {
      const controller = new AbortController();
      const { calls, operation } = failing(Number.POSITIVE_INFINITY);
      // An hour's wait: only the abort can end it before the test's timeout.
      const hour = { initialMs: 3_600_000, maxMs: 3_600_000, jitter: 0 };
      const value = await retry(operation, {
        backoff: hour,
        retryable,
        signal: controller.signal,
        onRetry: () => setImmediate(() => controller.abort()),
      });
      assert.equal(value, null);
      assert.deepEqual(calls, [1]);
    },
  );

  it('runs the first attempt even when already aborted, and keeps its success', async () => {
    const controller = new AbortController();
    controller.abort();
    const value = await retry(async () => 'done', { backoff: POLICY, retryable, signal: controller.signal });
    assert.equal(value, 'done');
  });

  it('does not try again after a failure once aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const { calls, operation } = failing(1);
    assert.equal(await retry(operation, { backoff: POLICY, retryable, signal: controller.signal }), null);
    assert.deepEqual(calls, [1]);
  });
});

describe('abortableDelay', () => {
  it('waits the time given', async () => {
    const start = performance.now();
    await abortableDelay(30);
    assert.ok(performance.now() - start >= 25);
  });

  it(
    'resolves at once when the signal is already aborted, or aborts later',
    { timeout: 10_000 },
    async () => {
      await abortableDelay(3_600_000, AbortSignal.abort());
      const controller = new AbortController();
      setImmediate(() => controller.abort());
      await abortableDelay(3_600_000, controller.signal);
    },
  );
});
