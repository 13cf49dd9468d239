/**
 * The chain's stream on a real NATS connection: each message goes out as one HPUB frame with a
 * reply subject on one inbox subscription (`<inbox>.<token>`), carrying `Nats-Msg-Id` and
 * `Nats-Expected-Last-Sequence`, and each PubAck is handed to the chain by its token.
 * (`js.publish()` costs a promise, a timer and, unless `noAsyncTraces`, an Error per message:
 * docs/pitfalls.md measured 11–17k/s pipelined against 37–59k/s for this.)
 *
 * Frames are written through WireEncoder (its fast path hands bytes to nats.js's protocol
 * handler). An encoder's slabs may be rewritten only once the server has confirmed what was
 * handed over from them; a PubAck for a frame confirms every byte before it on the connection.
 * So frames are written into generations of about GENERATION_BYTES, one encoder each; a
 * generation's encoder is reused once the PubAck of its last frame (or a later one) arrived.
 */
import { Buffer } from 'node:buffer';
import { createInbox, type Msg, type Subscription } from '@nats-io/transport-node';
import { errorMessage, subjectMatches } from '@wal2nats/core';
import type { ChainStream } from './jetstream-check.js';
import { MessageRefused, type ChainReply, type ChainSignals, type StreamClient } from './jetstream-chain.js';
import type { NatsLink } from './nats-link.js';
import { HEADER_END, type WireMessage } from './wire-frame.js';
import { WireEncoder } from './wire-encoder.js';

const EXPECTED_HEADER = 'Nats-Expected-Last-Sequence: ';
/** "wrong last sequence: N" (JSStreamWrongLastSequenceErrF). */
const WRONG_LAST_SEQUENCE = 10071;
const GENERATION_BYTES = 512 * 1024;
/** Subjects of recent sends by token (a ring larger than any window), to explain a 503. */
const SUBJECT_RING = 1 << 17;

interface PubAckReply {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code?: number; err_code?: number; description?: string };
}

interface Generation {
  readonly encoder: WireEncoder;
  bytes: number;
  /** The token of the last frame written in it. */
  lastToken: number;
}

export class NatsStreamClient implements StreamClient<WireMessage> {
  private readonly inbox = createInbox();
  private readonly subscription: Subscription;
  private current: Generation;
  /** Generations handed over and not yet confirmed, oldest first. */
  private readonly closed: Generation[] = [];
  private readonly spare: WireEncoder[] = [];
  private highestReplied = 0;
  private chain: ChainSignals | null = null;
  private readonly subjects: string[] = new Array<string>(SUBJECT_RING);

  constructor(
    private readonly link: NatsLink,
    private readonly stream: ChainStream,
  ) {
    this.current = { encoder: new WireEncoder(link.nc), bytes: 0, lastToken: 0 };
    this.subscription = link.nc.subscribe(`${this.inbox}.*`, {
      callback: (_error, msg) => this.onReply(msg),
    });
    link.onEpochChange(() => {
      if (link.connected) this.chain?.reconnected();
      else {
        // nats.js drops what it had not written: nothing handed over can be confirmed any more.
        this.closed.length = 0;
        this.current = { encoder: new WireEncoder(link.nc), bytes: 0, lastToken: 0 };
        this.chain?.connectionLost();
      }
    });
  }

  /** Replies go to `chain`. */
  attach(chain: ChainSignals): void {
    this.chain = chain;
  }

  get connected(): boolean {
    return this.link.connected;
  }
  /** Set when the server refused us for good (credentials, permissions). */
  get fatalError(): Error | null {
    return this.link.fatalError;
  }

  send(message: WireMessage, expectedLastSeq: number, token: number): void {
    const expectation = `${EXPECTED_HEADER}${expectedLastSeq}\r\n`;
    const headerBytes = message.bodyStart - message.headerStart + expectation.length;
    const total = headerBytes + message.bodyEnd - message.bodyStart;
    const refusal = this.refusal(total);
    if (refusal !== null) throw new MessageRefused(refusal);
    // The frame's header block with the expectation before its final CRLF, then the body.
    const bytes = Buffer.allocUnsafe(total + 2);
    const blockEnd = message.bodyStart - HEADER_END.length + 2;
    let o = message.bytes.copy(bytes, 0, message.headerStart, blockEnd);
    o += bytes.write(expectation, o, 'latin1');
    o += bytes.write('\r\n', o, 'latin1');
    const bodyStart = o;
    o += message.bytes.copy(bytes, o, message.bodyStart, message.end);
    if (this.current.bytes >= GENERATION_BYTES) this.nextGeneration();
    try {
      this.current.encoder.publish(
        { subject: message.subject, bytes, start: 0, headerStart: 0, bodyStart, bodyEnd: o - 2, end: o },
        `${this.inbox}.${token}`,
      );
    } catch (error) {
      // The client's own checks (a closed connection, a subject it will not take).
      throw new MessageRefused(errorMessage(error));
    }
    this.subjects[token & (SUBJECT_RING - 1)] = message.subject;
    this.current.bytes += o;
    this.current.lastToken = token;
  }

  flush(): void {
    this.current.encoder.flush();
  }

  /** Why the message cannot be stored at all, or null. */
  private refusal(total: number): string | null {
    const maxPayload = this.link.nc.info?.max_payload;
    if (maxPayload !== undefined && total > maxPayload) {
      return `the message is ${total} bytes (headers included), over the NATS server's max_payload of ${maxPayload} bytes; raise max_payload in the server configuration`;
    }
    if (this.stream.maxMsgSize >= 0 && total > this.stream.maxMsgSize) {
      return `the message is ${total} bytes (headers included), over the max_msg_size of ${this.stream.maxMsgSize} bytes of JetStream stream ${this.stream.name}; raise it (nats stream edit ${this.stream.name} --max-msg-size=…) and restart wal2nats`;
    }
    return null;
  }

  private nextGeneration(): void {
    this.current.encoder.flush();
    this.closed.push(this.current);
    this.releaseConfirmed();
    const encoder = this.spare.pop() ?? new WireEncoder(this.link.nc);
    encoder.reset();
    this.current = { encoder, bytes: 0, lastToken: 0 };
  }

  private releaseConfirmed(): void {
    while (this.closed.length > 0 && this.closed[0]!.lastToken <= this.highestReplied) {
      const generation = this.closed.shift()!;
      generation.encoder.confirmWritten();
      if (this.spare.length < 4) this.spare.push(generation.encoder);
    }
  }

  private onReply(msg: Msg): void {
    const token = Number(msg.subject.slice(msg.subject.lastIndexOf('.') + 1));
    if (token > this.highestReplied) this.highestReplied = token;
    this.chain?.reply(token, describeReply(msg, this.stream, this.subjects[token & (SUBJECT_RING - 1)]));
  }

  async close(): Promise<void> {
    this.subscription.unsubscribe();
    await this.link.close();
  }
}

/** Reads a PubAck (or the server's 503) for a message to `stream`. */
export function describeReply(
  msg: Pick<Msg, 'headers' | 'json' | 'string'>,
  stream: ChainStream,
  subject: string | undefined,
): ChainReply {
  if (msg.headers?.code === 503) {
    // Nobody listens on the subject: no stream captures it, or its stream has no leader now.
    if (subject !== undefined && !stream.subjects.some((filter) => subjectMatches(subject, filter))) {
      return {
        kind: 'failed',
        reason: `no JetStream stream captures ${subject} (503 no responders); create one, or add the subject to stream ${stream.name}`,
      };
    }
    return {
      kind: 'failed',
      reason: `JetStream stream ${stream.name} did not answer (503 no responders): it has no leader right now (an election or a node down), or it was deleted`,
    };
  }
  if (msg.headers && msg.headers.code >= 400)
    return { kind: 'failed', reason: `JetStream answered ${msg.headers.code} ${msg.headers.description}` };
  let reply: PubAckReply;
  try {
    reply = msg.json<PubAckReply>();
  } catch {
    return { kind: 'failed', reason: `JetStream sent an unreadable PubAck: ${msg.string().slice(0, 200)}` };
  }
  if (reply.error) {
    const description = reply.error.description ?? 'unknown error';
    const last = /wrong last sequence: (\d+)/.exec(description);
    if (reply.error.err_code === WRONG_LAST_SEQUENCE && last)
      return { kind: 'wrongLastSequence', last: Number(last[1]) };
    return {
      kind: 'failed',
      reason: `JetStream stream ${stream.name} refused the message: ${description} (code ${reply.error.err_code ?? reply.error.code ?? '?'})`,
    };
  }
  if (reply.stream !== undefined && reply.stream !== stream.name) {
    return {
      kind: 'failed',
      reason: `the message was stored by JetStream stream ${reply.stream}, not by ${stream.name}: its subject belongs to another stream than the rest of its table's stream; restart wal2nats so that it routes the table again`,
    };
  }
  if (typeof reply.seq !== 'number')
    return {
      kind: 'failed',
      reason: `JetStream sent a PubAck without a sequence: ${msg.string().slice(0, 200)}`,
    };
  return { kind: 'stored', seq: reply.seq, duplicate: reply.duplicate === true };
}
