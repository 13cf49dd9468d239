/**
 * One ordered chain of publishes into one JetStream stream: many messages in flight, and yet
 * the stream can only ever hold a gap-free prefix of them, in the order they were pushed.
 *
 * Every message is sent with `Nats-Expected-Last-Sequence` = the last acknowledged sequence +
 * the number of unacknowledged messages before it (and its `Nats-Msg-Id`). The server applies
 * a message only directly after its predecessor, in Raft order, so during a leader election a
 * message k that fails cannot be overtaken by k+1: k+1 then fails too ("wrong last sequence").
 * nats-server 2.9 has no atomic batches (2.12); this is what works on it (measured on a 3-node
 * cluster with a step-down every 250 ms: 0 out of order, 0 twice, 0 missing; docs/pitfalls.md).
 *
 * Why the stream can only hold a prefix (the invariant the tests check): each expectation is
 * at least the true position of the message's predecessor (the last acknowledged sequence is
 * exact; counting every unacknowledged message before it over-counts only those that turn out
 * to be old duplicates). A message sent with a too-high expectation is applied only once the
 * stream reaches that sequence, and by then the stream holds the message itself (everything in
 * it is a chain prefix), so the server's duplicate check (made before the expectation) drops it.
 * So a message is stored only right after its predecessor, whatever stale sends are in flight.
 *
 * Replies:
 * - stored at `last + 1` (a fresh PubAck or a duplicate): acknowledged, in order. A reply for
 *   the j-th unacknowledged message at `last + j + 1` proves the j before it are stored too (a
 *   lost PubAck does not stop the chain).
 * - a duplicate at or below `last`: the stream held it before (a replay after a restart):
 *   delivered, takes no sequence.
 * - anything else (503 during an election, "wrong last sequence", a timeout, a lost
 *   connection): stop sending, let the window settle (every send answered or timed out), then
 *   resend the first unacknowledged message alone, expecting the last acknowledged sequence,
 *   until it is stored or acknowledged as a duplicate; then the window resumes (a "repair").
 * - "wrong last sequence: N" for the first unacknowledged message with N above our last
 *   sequence: nothing of ours can be there (everything before it is acknowledged, nothing after
 *   it can be stored first), so someone else wrote to the stream (another program, or another
 *   wal2nats that took over from this one): fatal, naming the stream. N below ours (messages
 *   removed by a purge) is retried like any failure, visibly.
 * - a message the client refuses before sending (over max_payload or the stream's
 *   max_msg_size) holds the chain there, visibly, and is retried with the regular backoff.
 */
import { backoffDelayMs, type BackoffPolicy } from '@wal2nats/core';

/** What the server answered to one send. */
export type ChainReply =
  | { readonly kind: 'stored'; readonly seq: number; readonly duplicate: boolean }
  | { readonly kind: 'wrongLastSequence'; readonly last: number }
  | { readonly kind: 'failed'; readonly reason: string };

/** Thrown by StreamClient.send() when a message cannot be sent at all (e.g. too large). */
export class MessageRefused extends Error {
  override readonly name = 'MessageRefused';
}

/** The stream as the chain sees it: the NATS adapter (nats-stream-client.ts) or a test's fake. */
export interface StreamClient<M> {
  readonly connected: boolean;
  /**
   * Publishes `message` with `Nats-Expected-Last-Sequence: expectedLastSeq`; its answer comes
   * back as chain.reply(token, …). Throws MessageRefused when the message cannot be sent.
   */
  send(message: M, expectedLastSeq: number, token: number): void;
  /** Hands what send() buffered to the connection. */
  flush(): void;
}

/**
 * The chain ended for good: someone else writes to the stream (another program, or another
 * wal2nats that took over from this one: this is what fences a stale instance).
 */
export class ChainBroken extends Error {
  override readonly name = 'ChainBroken';
  constructor(
    readonly stream: string,
    message: string,
  ) {
    super(message);
  }
}

/** What the stream's connection tells the chain. */
export interface ChainSignals {
  reply(token: number, reply: ChainReply): void;
  connectionLost(): void;
  reconnected(): void;
}

export interface ChainEvents<M> {
  /** These messages are stored in the stream, in order (called once per batch of acks). */
  delivered(messages: readonly M[]): void;
  /** These messages were just sent (for the console's in-flight view). */
  sent(messages: readonly M[]): void;
  /** The first unacknowledged message failed `attempts` times; next try at `nextAttemptAt` (ms). */
  failing(message: M, reason: string, attempts: number, nextAttemptAt: number): void;
  /** The chain cannot go on (see ChainBroken). */
  broken(error: ChainBroken): void;
}

export interface ChainOptions {
  readonly stream: string;
  /** Most messages in flight. */
  readonly window: number;
  /** Most bytes in flight (a message counts `sizeOf(message)`). */
  readonly windowBytes: number;
  /** A send unanswered for this long counts as failed (only costs a repair if it was stored). */
  readonly ackTimeoutMs: number;
  /** For repeated failures of one message, after the first quick retries. */
  readonly backoff: BackoffPolicy;
  /**
   * False while this process may not publish (the publish lease of ha/publish-lease.ts ran out:
   * it may have lost the slot to a standby). Nothing is sent then; re-checked every 100 ms.
   */
  readonly mayPublish?: () => boolean;
}

const LEASE_RECHECK_MS = 100;

/**
 * Quick retries first: an election answers 503 at once and is over within a second or two, and
 * a resend costs one small message. After QUICK_RETRIES the regular backoff takes over.
 */
const QUICK_RETRIES = 40;
const QUICK_RETRY_FIRST_MS = 10;
const QUICK_RETRY_MAX_MS = 250;

/** Retry delay after `attempts` failures of the first unacknowledged message. */
export function repairDelayMs(attempts: number, policy: BackoffPolicy): number {
  if (attempts <= QUICK_RETRIES)
    return Math.min(policy.maxMs, QUICK_RETRY_MAX_MS, QUICK_RETRY_FIRST_MS * 2 ** (attempts - 1));
  return backoffDelayMs(attempts - QUICK_RETRIES, policy);
}

interface Entry<M> {
  readonly message: M;
  readonly bytes: number;
  /** Token of the latest send, 0 while unsent. */
  token: number;
  /** What the latest send got, null while waiting. */
  reply: ChainReply | null;
  /** The token whose failure was counted as an attempt (each failed send counts once). */
  countedToken: number;
  /** Why the client refused to send it (it holds the chain until retried). */
  refusal: string | null;
}

type Mode = 'pipelining' | 'repairing';

export class JetStreamChain<M> implements ChainSignals {
  private client: StreamClient<M> | null = null;
  private entries: Entry<M>[] = [];
  private head = 0;
  /** Entries from the head that were sent in this round (pipelining), or the lone resend. */
  private sent = 0;
  private bytesInFlight = 0;
  /** The stream sequence of the last acknowledged message of ours (or the stream's at start). */
  private lastSeq = 0;
  /** Sends not yet answered or timed out, oldest first: token → entry and when it was sent. */
  private readonly outstanding = new Map<number, { entry: Entry<M>; sentAt: number }>();
  private nextToken = 1;
  private mode: Mode = 'pipelining';
  private attempts = 0;
  private lastError: string | null = null;
  private nextAttemptAt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private timeoutTimer: NodeJS.Timeout | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
  private tickScheduled = false;
  private stopped = false;
  private brokenError: ChainBroken | null = null;
  /** Stored messages not yet reported: reported once per turn of the event loop. */
  private deliveredBatch: M[] = [];
  /** Times the chain stopped pipelining to resend its first message alone. */
  repairs = 0;

  constructor(
    private readonly options: ChainOptions,
    private readonly sizeOf: (message: M) => number,
    private readonly events: ChainEvents<M>,
  ) {}

  /** Starts after `lastSeq`, the stream's last sequence (read at start). */
  start(client: StreamClient<M>, lastSeq: number): void {
    this.client = client;
    this.lastSeq = lastSeq;
    this.scheduleTick();
  }

  /**
   * Continues after `lastSeq`, the stream's last sequence read again: only when nothing is held
   * or in flight (a standby that takes over, a new session after a fence), since held messages
   * were counted from the old sequence.
   */
  continueAfter(lastSeq: number): void {
    if (this.size !== 0 || this.outstanding.size !== 0)
      throw new Error('JetStreamChain.continueAfter() needs an idle chain');
    this.lastSeq = lastSeq;
  }

  get lastAcknowledgedSeq(): number {
    return this.lastSeq;
  }
  /** Messages pushed and not yet stored. */
  get size(): number {
    return this.entries.length - this.head;
  }
  get inFlight(): number {
    return this.outstanding.size;
  }
  get broken(): ChainBroken | null {
    return this.brokenError;
  }
  peek(i = 0): M | undefined {
    return this.entries[this.head + i]?.message;
  }

  /** For a debug line: what the chain is doing. */
  state(): {
    mode: Mode;
    queued: number;
    sent: number;
    outstanding: number;
    lastSeq: number;
    attempts: number;
    repairs: number;
  } {
    return {
      mode: this.mode,
      queued: this.size,
      sent: this.sent,
      outstanding: this.outstanding.size,
      lastSeq: this.lastSeq,
      attempts: this.attempts,
      repairs: this.repairs,
    };
  }

  /** The first unacknowledged message's failures, while it has any. */
  failure(): { message: M; attempts: number; lastError: string | null; nextAttemptAt: number } | null {
    const entry = this.entries[this.head];
    if (!entry || this.attempts === 0) return null;
    return {
      message: entry.message,
      attempts: this.attempts,
      lastError: this.lastError,
      nextAttemptAt: this.nextAttemptAt,
    };
  }

  /** Whether nothing can move now: empty, or waiting for a retry with nothing in flight. */
  isSettled(): boolean {
    if (this.size === 0) return this.deliveredBatch.length === 0;
    return this.outstanding.size === 0 && (this.nextAttemptAt > Date.now() || this.brokenError !== null);
  }

  push(message: M): void {
    this.entries.push({
      message,
      bytes: this.sizeOf(message),
      token: 0,
      reply: null,
      countedToken: 0,
      refusal: null,
    });
    if (this.mode === 'pipelining') this.scheduleTick();
  }

  /** Retries a failing first message now (the console's "retry now"). */
  retryNow(): boolean {
    if (this.attempts === 0) return false;
    this.nextAttemptAt = 0;
    this.resume();
    return true;
  }

  /** The connection is back: a chain waiting because it was gone retries at once. */
  reconnected(): void {
    if (this.attempts > 0) this.nextAttemptAt = 0;
    this.resume();
  }

  /** The connection dropped: every send in flight may or may not be stored, and its reply is lost. */
  connectionLost(): void {
    for (const { entry } of this.outstanding.values()) {
      if (entry.reply === null)
        entry.reply = {
          kind: 'failed',
          reason: 'the NATS connection was lost before JetStream acknowledged',
        };
    }
    this.outstanding.clear();
    this.settleHead();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    this.retryTimer = this.timeoutTimer = this.leaseTimer = null;
    this.flushDelivered();
  }

  /** The server's answer to the send `token`. */
  reply(token: number, reply: ChainReply): void {
    const sent = this.outstanding.get(token);
    if (!sent) return; // timed out or lost with the connection: its message was dealt with since
    this.outstanding.delete(token);
    const { entry } = sent;
    if (entry.token !== token) return; // an older send of a message sent again since
    entry.reply = reply;
    if (reply.kind === 'stored') {
      // Stored at last + j + 1 proves the j unacknowledged messages before it are stored.
      const j = this.indexOf(entry);
      if (j > 0 && reply.seq === this.lastSeq + j + 1) {
        for (let k = 0; k < j; k++)
          this.entries[this.head + k]!.reply = {
            kind: 'stored',
            seq: this.lastSeq + k + 1,
            duplicate: false,
          };
      }
    }
    this.settleHead();
  }

  private indexOf(entry: Entry<M>): number {
    for (let i = this.head; i < this.head + this.sent; i++)
      if (this.entries[i] === entry) return i - this.head;
    return -1;
  }

  /** Takes the answered messages at the head, in order; starts a repair at the first failure. */
  private settleHead(): void {
    if (this.brokenError) return;
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head]!;
      const reply = entry.reply;
      if (entry.token === 0 || reply === null) break;
      if (reply.kind === 'stored') {
        if (reply.seq === this.lastSeq + 1) this.lastSeq = reply.seq;
        else if (!(reply.duplicate && reply.seq <= this.lastSeq)) {
          this.break(
            `another writer: JetStream stream ${this.options.stream} stored a message of wal2nats at sequence ${reply.seq}, but the chain's next sequence is ${this.lastSeq + 1}`,
          );
          return;
        }
        // (A duplicate at or below the last sequence was stored before, by a run before a restart.)
        this.deliveredBatch.push(entry.message);
        this.bytesInFlight -= entry.bytes;
        this.head++;
        this.sent--;
        this.attempts = 0;
        this.lastError = null;
        this.nextAttemptAt = 0;
        continue;
      }
      if (reply.kind === 'wrongLastSequence' && reply.last > this.lastSeq) {
        // Everything before the head is acknowledged, and nothing of ours after it can be stored
        // before it: a higher last sequence was written by someone else.
        this.break(
          `another writer: JetStream stream ${this.options.stream} ends at sequence ${reply.last}, but the last message wal2nats stored there is sequence ${this.lastSeq}`,
        );
        return;
      }
      this.countFailure(
        entry,
        reply.kind === 'failed'
          ? reply.reason
          : `JetStream refused the message: wrong last sequence (the stream ends at ${reply.last}; the chain expected another sequence and resends)`,
      );
      break;
    }
    if (this.head > 4096 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    if (this.deliveredBatch.length > 0) this.scheduleTick();
    if (this.mode === 'repairing') this.continueRepair();
    else this.scheduleTick();
  }

  /** The head's latest send failed: stop pipelining; the failure counts once. */
  private countFailure(head: Entry<M>, reason: string): void {
    if (this.mode !== 'repairing') {
      this.mode = 'repairing';
      this.repairs++;
    }
    if (head.countedToken === head.token) return;
    head.countedToken = head.token;
    this.attempts++;
    this.lastError = reason;
    this.nextAttemptAt = Date.now() + repairDelayMs(this.attempts, this.options.backoff);
    this.events.failing(head.message, reason, this.attempts, this.nextAttemptAt);
  }

  /** Once every send is answered or timed out, the head is resent alone when its retry is due. */
  private continueRepair(): void {
    if (this.outstanding.size > 0 || this.stopped || this.brokenError || !this.client) return;
    // The window has settled: what was sent after the head goes back to unsent.
    for (let i = this.head + 1; i < this.head + this.sent; i++) {
      const entry = this.entries[i]!;
      entry.token = 0;
      entry.reply = null;
    }
    const head = this.entries[this.head];
    if (!head || head.token === 0) {
      // The head was stored (or never sent): the repair is over.
      this.sent = 0;
      this.bytesInFlight = 0;
      this.mode = 'pipelining';
      this.scheduleTick();
      return;
    }
    this.sent = 1;
    this.bytesInFlight = head.bytes;
    if (!this.client.connected) return; // reconnected() resumes
    const wait = this.nextAttemptAt - Date.now();
    if (wait > 0) {
      this.armRetry(wait);
      return;
    }
    if (!this.mayPublishNow()) return;
    if (this.sendEntry(head, this.lastSeq)) this.client.flush();
  }

  /** Whether the publish lease allows sending; if not, looks again in a moment. */
  private mayPublishNow(): boolean {
    if (this.options.mayPublish?.() ?? true) return true;
    this.leaseTimer ??= setTimeout(() => {
      this.leaseTimer = null;
      this.resume();
    }, LEASE_RECHECK_MS);
    return false;
  }

  private resume(): void {
    const head = this.entries[this.head];
    if (head && head.refusal !== null) head.refusal = null;
    if (this.mode === 'repairing') this.continueRepair();
    else this.scheduleTick();
  }

  private armRetry(delay: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null;
        this.resume();
      },
      Math.max(0, delay),
    );
  }

  /** Sends and reports once per turn of the event loop (acks arrive by the hundred per read). */
  private scheduleTick(): void {
    if (this.tickScheduled || this.stopped) return;
    this.tickScheduled = true;
    setImmediate(() => {
      this.tickScheduled = false;
      this.flushDelivered();
      this.pump();
    });
  }

  private flushDelivered(): void {
    if (this.deliveredBatch.length === 0) return;
    const batch = this.deliveredBatch;
    this.deliveredBatch = [];
    this.events.delivered(batch);
  }

  /** Sends what the window allows, each message expecting the sequence of the one before it. */
  private pump(): void {
    const client = this.client;
    if (!client || this.stopped || this.brokenError || this.mode === 'repairing' || !client.connected) return;
    if (!this.mayPublishNow()) return;
    const first = this.head + this.sent;
    while (this.sent < this.options.window && this.head + this.sent < this.entries.length) {
      if (this.bytesInFlight >= this.options.windowBytes && this.sent > 0) break;
      const entry = this.entries[this.head + this.sent]!;
      if (entry.refusal !== null) {
        // Refused before: tried again only as the head, when its retry is due.
        if (this.sent > 0 || this.nextAttemptAt > Date.now()) break;
        entry.refusal = null;
      }
      if (!this.sendEntry(entry, this.lastSeq + this.sent)) break;
      this.sent++;
      this.bytesInFlight += entry.bytes;
    }
    const last = this.head + this.sent;
    if (last > first) {
      client.flush();
      this.events.sent(this.entries.slice(first, last).map((e) => e.message));
    }
  }

  /** Sends `entry`; false when the client refused it (it then holds the chain, visibly). */
  private sendEntry(entry: Entry<M>, expected: number): boolean {
    const token = this.nextToken++;
    try {
      this.client!.send(entry.message, expected, token);
    } catch (error) {
      if (!(error instanceof MessageRefused)) throw error;
      entry.refusal = error.message;
      entry.token = 0;
      entry.reply = null;
      if (entry === this.entries[this.head]) this.refused(entry, error.message);
      return false;
    }
    entry.token = token;
    entry.reply = null;
    this.outstanding.set(token, { entry, sentAt: Date.now() });
    this.armTimeout();
    return true;
  }

  /** A refused first message: a failed attempt, retried with the regular backoff (not a storm). */
  private refused(entry: Entry<M>, reason: string): void {
    this.attempts++;
    this.lastError = reason;
    const delay = backoffDelayMs(this.attempts, this.options.backoff);
    this.nextAttemptAt = Date.now() + delay;
    this.events.failing(entry.message, reason, this.attempts, this.nextAttemptAt);
    if (this.mode === 'repairing') {
      this.mode = 'pipelining';
      this.sent = 0;
      this.bytesInFlight = 0;
    }
    this.armRetry(delay);
  }

  private armTimeout(): void {
    if (this.timeoutTimer || this.outstanding.size === 0) return;
    const oldest = this.outstanding.values().next().value!;
    const delay = Math.max(0, oldest.sentAt + this.options.ackTimeoutMs - Date.now());
    this.timeoutTimer = setTimeout(() => this.expire(), delay + 1);
  }

  /** Sends unanswered past the timeout count as failed (their messages may still be stored). */
  private expire(): void {
    this.timeoutTimer = null;
    const deadline = Date.now() - this.options.ackTimeoutMs;
    let expired = false;
    for (const [token, { entry, sentAt }] of this.outstanding) {
      if (sentAt > deadline) break;
      this.outstanding.delete(token);
      if (entry.token === token && entry.reply === null)
        entry.reply = { kind: 'failed', reason: `no PubAck within ${this.options.ackTimeoutMs / 1000} s` };
      expired = true;
    }
    this.armTimeout();
    if (expired) this.settleHead();
  }

  private break(message: string): void {
    this.brokenError = new ChainBroken(this.options.stream, message);
    this.stop();
    this.events.broken(this.brokenError);
  }
}
