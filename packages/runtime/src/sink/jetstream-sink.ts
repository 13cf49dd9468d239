/**
 * JetStream: each message is published with core NATS and a reply subject on one inbox
 * subscription, and counts as delivered when its PubAck arrives (a PubAck that says
 * `duplicate` too: the stream already holds it). docs/pitfalls.md measured `js.publish` at ~6k/s
 * awaited one by one and ~33k/s with hundreds in flight, against ~180k/s for this pattern with
 * the same guarantees.
 */
import { createInbox, type Msg, type Subscription } from '@nats-io/transport-node';
import { allFailed, type CycleResult, type DeliverySink } from './delivery-sink.js';
import type { NatsLink } from './nats-link.js';
import { WireEncoder, type WireMessage } from './wire-encoder.js';

const ACK_TIMEOUT_MS = 10_000;

interface PubAckReply {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code?: number; err_code?: number; description?: string };
}

export class JetStreamSink implements DeliverySink {
  private readonly inbox = createInbox();
  private readonly subscription: Subscription;
  private epochAtBegin = 0;
  private cycleId = 0;
  private subjects: string[] = [];
  /** Per message of the current cycle: undefined = waiting, null = delivered, string = failure. */
  private outcomes: (string | null | undefined)[] = [];
  private waiting = 0;
  private wake: (() => void) | null = null;
  private readonly wire: WireEncoder;

  constructor(private readonly link: NatsLink) {
    this.wire = new WireEncoder(link.nc);
    // Reply subjects are <inbox>.<cycle>.<index>; a late ack of an old cycle is ignored.
    this.subscription = link.nc.subscribe(`${this.inbox}.*.*`, {
      callback: (_error, msg) => this.onReply(msg),
    });
    link.onEpochChange(() => this.wake?.());
    // A publish the server refuses gets no reply at all: settle it with the server's words.
    link.onPermissionError((error) => {
      this.subjects.forEach((subject, index) => {
        if (subject !== error.subject || this.outcomes[index] !== undefined) return;
        this.outcomes[index] = `NATS refused to let us publish to ${subject}: ${error.message}`;
        this.waiting--;
      });
      if (this.waiting === 0) this.wake?.();
    });
  }

  get connected(): boolean {
    return this.link.connected;
  }
  get fatalError(): Error | null {
    return this.link.fatalError;
  }
  onReconnect(listener: () => void): void {
    this.link.onReconnect(listener);
  }

  beginCycle(): void {
    this.epochAtBegin = this.link.epoch;
    this.cycleId++;
    this.subjects = [];
    this.outcomes = [];
    this.waiting = 0;
    this.wire.reset();
  }

  publishEncoded(message: WireMessage): void {
    this.wire.publish(message, `${this.inbox}.${this.cycleId}.${this.outcomes.length}`);
    this.track(message.subject);
  }

  private track(subject: string): void {
    this.subjects.push(subject);
    this.outcomes.push(undefined);
    this.waiting++;
  }

  private onReply(msg: Msg): void {
    const dot = msg.subject.lastIndexOf('.');
    const index = Number(msg.subject.slice(dot + 1));
    const cycle = Number(msg.subject.slice(msg.subject.lastIndexOf('.', dot - 1) + 1, dot));
    if (cycle !== this.cycleId || this.outcomes[index] !== undefined) return;
    this.outcomes[index] = this.outcomeOf(msg, index);
    this.waiting--;
    if (this.waiting === 0) this.wake?.();
  }

  private outcomeOf(msg: Msg, index: number): string | null {
    // No stream listens on the subject: the server answers 503 "no responders".
    if (msg.headers?.code === 503)
      return `no JetStream stream captures ${this.subjects[index]} (no responders); create one with --create-stream NAME`;
    if (msg.headers && msg.headers.code >= 400)
      return `JetStream answered ${msg.headers.code} ${msg.headers.description}`;
    let reply: PubAckReply;
    try {
      reply = msg.json<PubAckReply>();
    } catch {
      return `JetStream sent an unreadable PubAck: ${msg.string().slice(0, 200)}`;
    }
    if (reply.error)
      return `JetStream refused the message: ${reply.error.description ?? 'unknown error'} (code ${reply.error.err_code ?? reply.error.code ?? '?'})`;
    return null;
  }

  async settle(): Promise<CycleResult> {
    const count = this.outcomes.length;
    this.wire.flush();
    if (this.waiting > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        timer = setTimeout(resolve, ACK_TIMEOUT_MS);
      });
      clearTimeout(timer);
      this.wake = null;
    }
    if (this.link.epoch !== this.epochAtBegin)
      return allFailed(count, 'the NATS connection was lost before JetStream acknowledged', true);
    const failures = new Map<number, string>();
    let unanswered = 0;
    this.outcomes.forEach((outcome, index) => {
      if (outcome === undefined) {
        failures.set(index, `no PubAck within ${ACK_TIMEOUT_MS / 1000} s`);
        unanswered++;
      } else if (outcome !== null) failures.set(index, outcome);
    });
    // Every message was answered (acknowledged or refused): the server has read all of the cycle.
    if (unanswered === 0) this.wire.confirmWritten();
    return { failures, connectionLost: false };
  }

  async close(): Promise<void> {
    this.subscription.unsubscribe();
    await this.link.close();
  }
}
