/**
 * The one retry loop: try, and while the failure is one that may go away (Postgres or NATS not
 * reachable yet, a stream without a leader), wait a growing, jittered delay and try again, until
 * it succeeds, a failure is for good, or the caller stops.
 *
 * Only loops that retry one operation from scratch use it. Loops whose attempts carry progress
 * (a publish cycle that delivered part of its messages, the JetStream chain, the backfill
 * driver's service loop) keep their own counters: their backoff restarts when something moved.
 */
import { backoffDelayMs, type BackoffPolicy } from '@wal2nats/core';
import { abortableDelay } from './abortable-delay.js';

export interface RetryWait {
  readonly error: unknown;
  /** The attempt that just failed, from 1. */
  readonly attempt: number;
  readonly delayMs: number;
}

export interface RetryOptions {
  readonly backoff: BackoffPolicy;
  /**
   * True when trying again may help. Any other error is thrown as it is, at once: a refusal
   * (wrong password, missing privilege) must reach the operator, not be retried forever.
   */
  readonly retryable: (error: unknown) => boolean;
  /** Ends the wait at once and the retries with it (`retry` resolves null). */
  readonly signal?: AbortSignal | undefined;
  /** Called before each wait, for the caller's own log line. */
  readonly onRetry?: (wait: RetryWait) => void;
  /** For tests: how to wait (abortableDelay) and the jitter's random source (Math.random). */
  readonly wait?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
  readonly random?: () => number;
}

/**
 * Runs `operation(attempt)` until it resolves, and resolves with its value, or null when
 * `signal` aborted during a wait. The first attempt always runs; an abort is only looked at
 * after a failure, so an operation that succeeds is never thrown away.
 */
export async function retry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T | null> {
  const wait = options.wait ?? abortableDelay;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!options.retryable(error)) throw error;
      const delayMs = backoffDelayMs(attempt, options.backoff, options.random);
      options.onRetry?.({ error, attempt, delayMs });
      await wait(delayMs, options.signal);
      if (options.signal?.aborted) return null;
    }
  }
}
