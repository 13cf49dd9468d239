import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JsonBytes } from '@wal2nats/core';
import { MessageSlabs, OutgoingMessage } from './outgoing-message.js';

/** Writes a change given as strings, as the encoder would hand it over. */
function write(slabs: MessageSlabs, seq: number, json: string): OutgoingMessage {
  const body = new JsonBytes(64);
  body.text(json);
  const change = {
    subject: 'sequin.changes.db.public.t.insert',
    action: 'insert' as const,
    msgId: `7000:db:100:${seq}`,
    msgIdStart: -1,
    msgIdEnd: -1,
  };
  return slabs.write(seq, 5, change, body);
}

/** The frame exactly as nats.js's publish() would write it. */
function expectedFrame(subject: string, msgId: string, json: string): string {
  const header = `NATS/1.0\r\nNats-Msg-Id: ${msgId}\r\n\r\n`;
  return `HPUB ${subject} ${Buffer.byteLength(header)} ${Buffer.byteLength(header) + Buffer.byteLength(json)}\r\n${header}${json}\r\n`;
}

describe('OutgoingMessage and MessageSlabs', () => {
  it('hold a change as its HPUB frame and give back its msgId and JSON', () => {
    const slabs = new MessageSlabs();
    const json = '{"record":{"name":"café 😀"}}';
    const message = write(slabs, 1, json);
    assert.equal(
      message.bytes.toString('utf8', message.start, message.end),
      expectedFrame(message.subject, '7000:db:100:1', json),
    );
    assert.equal(message.msgId, '7000:db:100:1');
    assert.equal(message.json, json);
    assert.equal(message.bodyBytes, Buffer.byteLength(json));
    const copy = message.detached();
    assert.notEqual(copy.bytes, message.bytes);
    assert.equal(copy.json, json);
    assert.equal(copy.msgId, message.msgId);
  });

  it('writes a body given as bytes the same way', () => {
    const slabs = new MessageSlabs();
    const body = new JsonBytes(8);
    body.text('{"a":"ü"}');
    const message = slabs.write(
      3,
      9,
      { subject: 's.t', action: 'update', msgId: 'p:1:2', msgIdStart: -1, msgIdEnd: -1 },
      body,
    );
    assert.equal(
      message.bytes.toString('utf8', message.start, message.end),
      expectedFrame('s.t', 'p:1:2', '{"a":"ü"}'),
    );
    assert.deepEqual([message.seq, message.commitTime, message.action], [3, 9, 'update']);
    // A msgId given as a run of the body's bytes (the encoder's idempotency_key).
    const inBody = slabs.write(
      4,
      9,
      { subject: 's.t', action: 'insert', msgId: null, msgIdStart: 6, msgIdEnd: 8 },
      body,
    );
    assert.equal(
      inBody.bytes.toString('utf8', inBody.start, inBody.end),
      expectedFrame('s.t', 'ü', '{"a":"ü"}'),
    );
    assert.equal(inBody.msgId, 'ü');
  });

  it('lays consecutive messages next to each other and reuses a slab once all of its messages are delivered', () => {
    const slabs = new MessageSlabs();
    const big = 'x'.repeat(40_000);
    const first = Array.from({ length: 8 }, (_, i) => write(slabs, i, `{"v":"${big}"}`));
    for (let i = 1; i < first.length; i++)
      if (first[i]!.slab === first[i - 1]!.slab) assert.equal(first[i]!.start, first[i - 1]!.end);
    const firstSlab = first[0]!.slab;
    assert.ok(
      first.some((m) => m.slab !== firstSlab),
      'the messages fill more than one slab',
    );
    for (const m of first) slabs.release(m);
    assert.equal(firstSlab.live, 0);
    // The next slab needed is the emptied one, not a new allocation.
    const later = Array.from({ length: 16 }, (_, i) => write(slabs, 100 + i, `{"v":"${big}"}`));
    assert.ok(later.some((m) => m.slab === firstSlab));
  });

  it('never reuses a slab that still holds an undelivered message', () => {
    const slabs = new MessageSlabs();
    const big = 'y'.repeat(60_000);
    const kept = write(slabs, 0, `{"v":"${big}"}`);
    const text = kept.json;
    const others = Array.from({ length: 40 }, (_, i) => write(slabs, i + 1, `{"v":"${big}"}`));
    for (const m of others) slabs.release(m);
    for (let i = 0; i < 40; i++) write(slabs, 100 + i, `{"v":"${'z'.repeat(60_000)}"}`);
    assert.equal(kept.json, text);
    assert.equal(kept.msgId, '7000:db:100:0');
  });

  it('fromText makes a message of its own memory', () => {
    const message = OutgoingMessage.fromText({
      seq: 7,
      subject: 'sequin.changes.db.public.t.insert',
      action: 'insert',
      msgId: '7000:db:100:7',
      json: '{}',
      commitTime: 5,
    });
    assert.equal(message.start, 0);
    assert.equal(message.json, '{}');
  });
});
