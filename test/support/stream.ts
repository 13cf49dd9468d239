/**
 * Reads a whole JetStream stream back, in stream order, for checks of what was stored. Every
 * wal2nats message in it is checked against the contract on the way (harness/message-schema.ts).
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { messageProblem } from '../harness/message-schema.js';

export interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  readonly msgId: string | undefined;
  readonly data: unknown;
}

export async function streamMessageCount(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(stream)).state.messages;
}

export async function readStream(nc: NatsConnection, stream: string): Promise<StoredMessage[]> {
  const total = await streamMessageCount(nc, stream);
  const consumer = await jetstream(nc).consumers.get(stream); // an ordered consumer from the start
  const messages: StoredMessage[] = [];
  while (messages.length < total) {
    const batch = await consumer.fetch({
      max_messages: Math.min(1000, total - messages.length),
      expires: 5000,
    });
    let got = 0;
    for await (const m of batch) {
      const msgId = m.headers?.get('Nats-Msg-Id');
      const problem = messageProblem(m.subject, m.string(), msgId || undefined);
      if (problem !== null)
        throw new Error(
          `the stream ${stream} holds a message that breaks the contract at seq ${m.seq}: ${problem}`,
        );
      messages.push({ seq: m.seq, subject: m.subject, msgId, data: m.json() });
      got++;
    }
    if (got === 0) throw new Error(`the stream ${stream} stopped at ${messages.length} of ${total} messages`);
  }
  return messages;
}
