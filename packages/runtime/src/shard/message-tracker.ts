/**
 * The messages view of one shard, for the console and `GET /api/messages`: what is in flight,
 * the head of every failing table (deliver count, last error, next attempt) and the last
 * `deliveredCapacity` delivered messages.
 *
 * It is the publisher's PublishObserver, so it is called once per table and publish cycle with
 * the messages concerned, and keeps references to the arrays it is handed rather than a record
 * per message: a healthy cycle costs a few map operations, whatever its size. Views are built
 * only when asked for. Memory stays bounded: in flight is at most the cycles in flight (a table's
 * entry lists its in-flight messages of every cycle, with the time of the latest publish),
 * failing is one entry per table, delivered keeps about `deliveredCapacity` messages, and
 * per-message attempt counts exist only for messages that failed and are not yet delivered (at
 * most the mailbox).
 */
import { pgMicrosToIso } from '@wal2nats/core';
import type { PublishObserver } from './shard-publisher.js';
import { OutgoingMessage } from './outgoing-message.js';
import type {
  MessageCounts,
  MessageDetail,
  MessageQuery,
  MessageState,
  MessageView,
} from '../messages/message-view.js';

/** What the publisher knows of a failing table right now (its retry time may have moved). */
export interface FailingTableState {
  readonly table: string;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly nextAttemptAt: number;
  readonly queued?: number;
}

export interface MessageTrackerOptions {
  readonly shard: number;
  /** Delivered messages kept (default 100). */
  readonly deliveredCapacity?: number;
  /** Longest body kept for a delivered message and returned in a detail (default 64 KiB). */
  readonly bodyLimit?: number;
  readonly now?: () => number;
}

interface InFlightEntry {
  messages: readonly OutgoingMessage[];
  readonly publishedAt: number;
}

interface FailingEntry {
  readonly message: OutgoingMessage;
  readonly since: number;
  lastAttemptAt: number;
  lastError: string;
  nextAttemptAt: number;
}

interface DeliveredBatch {
  readonly table: string;
  /** Until cycleDone(), the publisher's messages; then copies of their own (keptCopy). */
  messages: OutgoingMessage[];
  copied: boolean;
  readonly deliveredAt: number;
  readonly lastAttemptAt: number;
  /** Attempts of the messages that took more than one; the rest took one. */
  readonly attempts: ReadonlyMap<string, number> | null;
  /** Original body length of messages whose kept body was cut. */
  cut: Map<string, number> | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** `…:<commit_lsn>:<commit_idx>` at the end of every msgId (see idempotency-key.ts). */
export function positionOfMsgId(msgId: string): { commitLsn: number; commitIdx: number } {
  const last = msgId.lastIndexOf(':');
  const before = msgId.lastIndexOf(':', last - 1);
  return { commitLsn: Number(msgId.slice(before + 1, last)), commitIdx: Number(msgId.slice(last + 1)) };
}

/**
 * A delivered message as kept here: a copy of its bytes (its slab is reused once it is
 * delivered), the body cut at `bodyLimit` characters; `cutFrom` is the length of a cut body.
 */
function keptCopy(
  message: OutgoingMessage,
  bodyLimit: number,
): { message: OutgoingMessage; cutFrom: number | null } {
  // A body of at most bodyLimit bytes has at most bodyLimit UTF-16 units: no need to decode it.
  if (message.bodyBytes <= bodyLimit) return { message: message.detached(), cutFrom: null };
  const json = message.json;
  if (json.length <= bodyLimit) return { message: message.detached(), cutFrom: null };
  const { seq, subject, action, commitTime, msgId } = message;
  return {
    message: OutgoingMessage.fromText({
      seq,
      subject,
      action,
      commitTime,
      msgId,
      json: json.slice(0, bodyLimit),
    }),
    cutFrom: json.length,
  };
}

export class MessageTracker implements PublishObserver {
  private readonly shard: number;
  private readonly deliveredCapacity: number;
  private readonly bodyLimit: number;
  private readonly now: () => number;
  private readonly inFlightByTable = new Map<string, InFlightEntry>();
  private readonly failingByTable = new Map<string, FailingEntry>();
  /** Failed attempts of messages not yet delivered. */
  private readonly failures = new Map<string, number>();
  private deliveredBatches: DeliveredBatch[] = [];
  private deliveredHeld = 0;

  constructor(options: MessageTrackerOptions) {
    this.shard = options.shard;
    this.deliveredCapacity = options.deliveredCapacity ?? 100;
    this.bodyLimit = options.bodyLimit ?? 64 * 1024;
    this.now = options.now ?? Date.now;
  }

  // --- PublishObserver (the publisher's hot loop: once per table and cycle) ------------------

  inFlight(table: string, messages: readonly OutgoingMessage[]): void {
    this.inFlightByTable.set(table, { messages, publishedAt: this.now() });
  }

  delivered(table: string, messages: readonly OutgoingMessage[]): void {
    const now = this.now();
    const entry = this.inFlightByTable.get(table);
    const publishedAt = entry?.publishedAt ?? now;
    if (entry) {
      // The delivered ones are the head of what was in flight; the rest failed (failing() follows).
      if (messages.length >= entry.messages.length) this.inFlightByTable.delete(table);
      else entry.messages = entry.messages.slice(messages.length);
    }
    this.failingByTable.delete(table);
    // References for now: only what is still held when the cycle is done gets copied.
    const kept =
      messages.length > this.deliveredCapacity ? messages.slice(-this.deliveredCapacity) : messages.slice();
    let attempts: Map<string, number> | null = null;
    if (this.failures.size > 0) {
      for (const message of messages) {
        const failed = this.failures.get(message.msgId);
        if (failed === undefined) continue;
        this.failures.delete(message.msgId);
        (attempts ??= new Map()).set(message.msgId, failed + 1);
      }
    }
    this.deliveredBatches.push({
      table,
      messages: kept,
      copied: false,
      deliveredAt: now,
      lastAttemptAt: publishedAt,
      attempts,
      cut: null,
    });
    this.deliveredHeld += kept.length;
    while (
      this.deliveredBatches.length > 1 &&
      this.deliveredHeld - this.deliveredBatches[0]!.messages.length >= this.deliveredCapacity
    ) {
      this.deliveredHeld -= this.deliveredBatches.shift()!.messages.length;
    }
  }

  /**
   * The publisher is about to reuse the memory of the cycle's delivered messages: copy those
   * still held (at most about `deliveredCapacity`; the batches are newest last).
   */
  cycleDone(): void {
    for (let b = this.deliveredBatches.length - 1; b >= 0; b--) {
      const batch = this.deliveredBatches[b]!;
      if (batch.copied) break;
      batch.copied = true;
      for (let i = 0; i < batch.messages.length; i++) {
        const copy = keptCopy(batch.messages[i]!, this.bodyLimit);
        batch.messages[i] = copy.message;
        if (copy.cutFrom !== null) (batch.cut ??= new Map()).set(copy.message.msgId, copy.cutFrom);
      }
    }
  }

  /** Every undelivered message was dropped (fencing): none is in flight or failing any more. */
  fenced(): void {
    this.inFlightByTable.clear();
    this.failingByTable.clear();
    this.failures.clear();
  }

  failing(
    table: string,
    message: OutgoingMessage,
    reason: string,
    _attempts: number,
    nextAttemptAt: number,
  ): void {
    const now = this.now();
    const entry = this.inFlightByTable.get(table);
    this.inFlightByTable.delete(table);
    let headCounted = false;
    for (const failed of entry?.messages ?? []) {
      this.failures.set(failed.msgId, (this.failures.get(failed.msgId) ?? 0) + 1);
      if (failed.msgId === message.msgId) headCounted = true;
    }
    // Refused by the client before it was in flight: still an attempt.
    if (!headCounted) this.failures.set(message.msgId, (this.failures.get(message.msgId) ?? 0) + 1);
    const previous = this.failingByTable.get(table);
    const since = previous && previous.message.msgId === message.msgId ? previous.since : now;
    this.failingByTable.set(table, {
      message,
      since,
      lastAttemptAt: entry?.publishedAt ?? now,
      lastError: reason,
      nextAttemptAt,
    });
  }

  // --- views ---------------------------------------------------------------------------------

  counts(): MessageCounts {
    let inflight = 0;
    for (const entry of this.inFlightByTable.values()) inflight += entry.messages.length;
    return {
      inflight,
      failing: this.failingByTable.size,
      delivered: Math.min(this.deliveredHeld, this.deliveredCapacity),
    };
  }

  /**
   * The messages in `state`: in flight oldest first, failing longest-failing first, delivered
   * newest first. `live` gives the publisher's current view of failing tables (retry times move
   * when an operator asks for a retry, a table may have recovered).
   */
  list(query: MessageQuery, live: readonly FailingTableState[] = []): MessageView[] {
    const limit = Math.max(0, query.limit);
    const wanted = (table: string): boolean => query.table === undefined || query.table === table;
    const views: MessageView[] = [];
    switch (query.state) {
      case 'inflight': {
        const all: { table: string; message: OutgoingMessage; publishedAt: number }[] = [];
        for (const [table, entry] of this.inFlightByTable) {
          if (!wanted(table)) continue;
          for (const message of entry.messages) all.push({ table, message, publishedAt: entry.publishedAt });
        }
        all.sort((a, b) => a.message.seq - b.message.seq);
        for (const { table, message, publishedAt } of all.slice(0, limit)) {
          views.push(
            this.view(message, table, 'inflight', {
              deliverCount: (this.failures.get(message.msgId) ?? 0) + 1,
              lastAttemptAt: publishedAt,
            }),
          );
        }
        return views;
      }
      case 'failing': {
        const liveByTable = new Map(live.map((s) => [s.table, s]));
        const entries = [...this.failingByTable.entries()]
          .filter(([table]) => wanted(table))
          .sort((a, b) => a[1].since - b[1].since);
        for (const [table, entry] of entries.slice(0, limit))
          views.push(this.failingView(table, entry, liveByTable.get(table)));
        return views;
      }
      case 'delivered': {
        const held = Math.min(limit, this.deliveredCapacity);
        for (let b = this.deliveredBatches.length - 1; b >= 0 && views.length < held; b--) {
          const batch = this.deliveredBatches[b]!;
          if (!wanted(batch.table)) continue;
          for (let i = batch.messages.length - 1; i >= 0 && views.length < held; i--) {
            views.push(this.deliveredView(batch, batch.messages[i]!));
          }
        }
        return views;
      }
    }
  }

  /** One message with its headers and body, wherever it is held; null when not held. */
  detail(id: string, live: readonly FailingTableState[] = []): MessageDetail | null {
    for (const [table, entry] of this.failingByTable) {
      if (entry.message.msgId !== id) continue;
      return this.withBody(
        this.failingView(
          table,
          entry,
          live.find((s) => s.table === table),
        ),
        entry.message.json,
        null,
      );
    }
    for (const [table, entry] of this.inFlightByTable) {
      const message = entry.messages.find((m) => m.msgId === id);
      if (!message) continue;
      const view = this.view(message, table, 'inflight', {
        deliverCount: (this.failures.get(id) ?? 0) + 1,
        lastAttemptAt: entry.publishedAt,
      });
      return this.withBody(view, message.json, null);
    }
    for (let b = this.deliveredBatches.length - 1; b >= 0; b--) {
      const batch = this.deliveredBatches[b]!;
      const message = batch.messages.find((m) => m.msgId === id);
      if (message)
        return this.withBody(this.deliveredView(batch, message), message.json, batch.cut?.get(id) ?? null);
    }
    return null;
  }

  private failingView(table: string, entry: FailingEntry, live: FailingTableState | undefined): MessageView {
    // The publisher's state wins for what can change without a publish (retry now).
    const nextAttemptAt = live ? live.nextAttemptAt : entry.nextAttemptAt;
    return this.view(entry.message, table, 'failing', {
      deliverCount: this.failures.get(entry.message.msgId) ?? 1,
      lastAttemptAt: entry.lastAttemptAt,
      lastError: live?.lastError ?? entry.lastError,
      nextAttemptAt: nextAttemptAt > 0 ? nextAttemptAt : null,
      failingSince: entry.since,
      queuedBehind: live?.queued !== undefined ? Math.max(0, live.queued - 1) : null,
    });
  }

  private deliveredView(batch: DeliveredBatch, message: OutgoingMessage): MessageView {
    return this.view(message, batch.table, 'delivered', {
      deliverCount: batch.attempts?.get(message.msgId) ?? 1,
      lastAttemptAt: batch.lastAttemptAt,
      deliveredAt: batch.deliveredAt,
    });
  }

  private view(
    message: OutgoingMessage,
    table: string,
    state: MessageState,
    fields: {
      deliverCount: number;
      lastAttemptAt: number;
      lastError?: string | null;
      nextAttemptAt?: number | null;
      deliveredAt?: number;
      failingSince?: number;
      queuedBehind?: number | null;
    },
  ): MessageView {
    const { commitLsn, commitIdx } = positionOfMsgId(message.msgId);
    return {
      id: message.msgId,
      subject: message.subject,
      table,
      action: message.action,
      commit_lsn: commitLsn,
      commit_idx: commitIdx,
      deliver_count: fields.deliverCount,
      last_error: fields.lastError ?? null,
      last_attempt_at: iso(fields.lastAttemptAt),
      next_attempt_at: fields.nextAttemptAt ? iso(fields.nextAttemptAt) : null,
      delivered_at: fields.deliveredAt !== undefined ? iso(fields.deliveredAt) : null,
      state,
      shard: this.shard,
      commit_timestamp: pgMicrosToIso(message.commitTime),
      failing_since: fields.failingSince !== undefined ? iso(fields.failingSince) : null,
      queued_behind: fields.queuedBehind ?? null,
    };
  }

  private withBody(view: MessageView, json: string, originalLength: number | null): MessageDetail {
    const length = originalLength ?? json.length;
    const body = json.length > this.bodyLimit ? json.slice(0, this.bodyLimit) : json;
    return {
      ...view,
      headers: { 'Nats-Msg-Id': view.id },
      body,
      body_truncated: body.length < length,
      body_length: length,
    };
  }
}
