import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { messageProblem } from './message-schema.js';

export interface WaitOptions {
  /** Named in the timeout error, e.g. "slot wal2nats confirmed_flush_lsn to pass 0/1A2B3C". */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** Appended to the timeout error, e.g. the last log lines of the process under test. */
  context?: () => string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function describe(value: unknown): string {
  if (value instanceof Error) return `error: ${value.message}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Polls `probe` until it returns something other than undefined or false, and returns that.
 * This is the one sanctioned way to wait for state outside the test (a slot's LSN, a row, a
 * metric): no bare sleeps. A probe that throws counts as "not yet" (e.g. a server that is
 * still starting); the timeout error names `what` and the last value or error seen.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { what, timeoutMs = 10_000, intervalMs = 50, context }: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const more = context ? `\n${context()}` : '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${describe(last)}${more}`,
      );
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

export interface CollectedMessage {
  subject: string;
  /** The body parsed as JSON; the raw text when it is not JSON. */
  data: unknown;
  headers: Record<string, string>;
}

export interface MessageCollector {
  readonly subject: string;
  /** Every message received so far, in arrival order. */
  readonly messages: CollectedMessage[];
  /**
   * Resolves with the first `n` messages once that many arrived; rejects after `timeoutMs`, or
   * as soon as a wal2nats message breaks the contract (message-schema.ts).
   */
  waitForCount(n: number, timeoutMs?: number): Promise<CollectedMessage[]>;
  /** Unsubscribes; pending waits reject. */
  close(): void;
}

export interface CollectOptions {
  /** Called for each message as it arrives (the demo prints them). */
  onMessage?: (message: CollectedMessage) => void;
}

interface Waiter {
  n: number;
  resolve: (messages: CollectedMessage[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

function decode(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Subscribes to `subjectFilter` (wildcards allowed) and records what arrives. Waiting is
 * driven by the subscription callback, not by polling, so a test wakes up as soon as the
 * n-th message lands. Call `await nc.flush()` afterwards if the subscription must be
 * registered on the server before the test produces messages.
 */
export function collectMessages(
  nc: NatsConnection,
  subjectFilter: string,
  options: CollectOptions = {},
): MessageCollector {
  const messages: CollectedMessage[] = [];
  const waiters = new Set<Waiter>();
  let broken: Error | null = null;

  const settle = () => {
    for (const w of waiters) {
      if (broken) {
        clearTimeout(w.timer);
        waiters.delete(w);
        w.reject(broken);
        continue;
      }
      if (messages.length >= w.n) {
        clearTimeout(w.timer);
        waiters.delete(w);
        w.resolve(messages.slice(0, w.n));
      }
    }
  };

  const sub: Subscription = nc.subscribe(subjectFilter, {
    callback: (err, msg) => {
      if (err) {
        for (const w of waiters) {
          clearTimeout(w.timer);
          w.reject(new Error(`subscription ${subjectFilter} failed: ${err.message}`));
        }
        waiters.clear();
        return;
      }
      const headers: Record<string, string> = {};
      if (msg.headers) for (const key of msg.headers.keys()) headers[key] = msg.headers.get(key);
      const text = msg.string();
      const problem = messageProblem(msg.subject, text, headers['Nats-Msg-Id']);
      if (problem !== null)
        broken ??= new Error(`a message on ${subjectFilter} breaks the contract: ${problem}`);
      const message = { subject: msg.subject, data: decode(text), headers };
      messages.push(message);
      options.onMessage?.(message);
      settle();
    },
  });

  return {
    subject: subjectFilter,
    messages,
    waitForCount(n, timeoutMs = 10_000) {
      if (broken) return Promise.reject(broken);
      if (messages.length >= n) return Promise.resolve(messages.slice(0, n));
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          n,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            reject(
              new Error(
                `timed out after ${timeoutMs} ms waiting for ${n} messages on ${subjectFilter}; ` +
                  `${messages.length} arrived`,
              ),
            );
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
    close() {
      sub.unsubscribe();
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(
          new Error(`collector on ${subjectFilter} closed with ${messages.length} of ${w.n} messages`),
        );
      }
      waiters.clear();
    },
  };
}
