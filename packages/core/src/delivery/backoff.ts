/**
 * Retry delays: exponential from about 1 s, doubling, capped at `maxMs` (default 3 min), with
 * ±20% jitter so that many tables failing together do not retry in lock step.
 */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Fraction of the delay drawn at random either side, 0..1. */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 180_000, jitter: 0.2 };

/** The delay before retry number `attempt` (1 = the first retry). */
export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  const jittered = base * (1 - policy.jitter + 2 * policy.jitter * random());
  return Math.round(Math.min(policy.maxMs, Math.max(1, jittered)));
}
