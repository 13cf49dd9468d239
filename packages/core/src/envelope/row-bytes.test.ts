// encodeRowBytes (the one path from a change to bytes) copies most values from the message as
// they are; it must write exactly what the string converters alone would write (the string path
// the shards used before, kept as an oracle in test/support/reference-envelope.ts; the golden
// tests of change-encoder.test.ts pin the wire format itself): both run here on the same raw
// pgoutput messages, over values of every kind of type, escapes, non-ASCII text, nulls,
// unchanged TOAST, both kinds of old tuple and both message kinds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Buffer } from 'node:buffer';

import { decodePgoutput } from '../pgoutput/pgoutput-decoder.js';
import type { RelationColumn, RelationMessage, TupleValue } from '../pgoutput/pgoutput.types.js';
import { JsonBytes } from '../values/json-bytes.js';
import {
  ChangeEncoder,
  type ChangePosition,
  type EncoderContext,
  type RowBytesResult,
} from './change-encoder.js';
import type { EncodedBody } from '../../../../test/support/byte-encoder.js';
import { referenceEnvelope } from '../../../../test/support/reference-envelope.js';
import { idempotencyKeyPrefix } from './idempotency-key.js';

const COLUMNS: [string, number][] = [
  ['id', 20],
  ['i2', 21],
  ['i4', 23],
  ['f4', 700],
  ['f8', 701],
  ['flag', 16],
  ['num', 1700],
  ['txt', 25],
  ['vc', 1043],
  ['js', 114],
  ['jb', 3802],
  ['tstz', 1184],
  ['ts', 1114],
  ['d', 1082],
  ['t', 1083],
  ['by', 17],
  ['u', 2950],
  ['ints', 1007],
  ['txts', 1009],
  ['custom', 70000],
  ['iv', 1186],
];

function relation(replicaIdentity: 'd' | 'f'): RelationMessage {
  const columns: RelationColumn[] = COLUMNS.map(([name, typeOid], i) => ({
    name,
    typeOid,
    typeMod: -1,
    isKey: replicaIdentity === 'f' || i === 0,
  }));
  return {
    tag: 'relation',
    relationId: 16400,
    schema: 'public',
    name: 'every "type"',
    replicaIdentity,
    columns,
  };
}

/** Sample values per column, valid and odd (anything Postgres or a surprise could send). */
const SAMPLES: TupleValue[][] = [
  ['1', '-9007199254740993', '9223372036854775807', 'x1', null, undefined],
  ['0', '-32768', '1e5'],
  ['42', '-7', '007'],
  ['1.5', 'NaN', 'Infinity', '-Infinity', '+1', '1e+30'],
  ['-0', '1.2345678901234568e+17', '3.14'],
  ['t', 'f', 'true', ''],
  ['199.99', 'NaN', '-0.000001'],
  [
    'pending',
    '',
    'say "hi"',
    'back\\slash',
    'tab\there',
    'line\nbreak',
    'café',
    '日本語',
    '😀 emoji',
    'x'.repeat(300),
    `${'y'.repeat(200)}"`,
  ],
  ['plain', 'ünï', '\u0001ctl'],
  ['{"a": [1, 2]}', '{"ü": "é"}', 'null'],
  ['{"b": 1}', '[1, "x"]'],
  [
    '2024-10-28 21:37:01.12747+00',
    '2024-10-28 23:37:01+02',
    'infinity',
    '0044-03-15 12:00:00+00 BC',
    '2024-10-28 21:37:01+00:00',
    '2024-10-28 21:37:01.123456-00',
    '2024-10-28 21:37:01.1234567+00',
    '2024-10-28 21:37:01+00:30',
    '2024-10-28 21:37:01+00:00:01',
    '0000-01-01 00:00:00+00',
    '2024-10-28 21:37:01.+00',
    '2024-10-28T21:37:01+00',
    '2024-10-28 21:37:01+0',
    '2024-10-28 21:37:01Z',
  ],
  [
    '2024-10-28 21:37:01.12747',
    '-infinity',
    '2024-10-28 21:37:01',
    '2024-10-28 21:37:01.000001',
    '2024-10-28 21:37:01 BC',
    '2024-10-28 21:37:01.1234567',
    '2024-1a-28 21:37:01',
  ],
  ['2024-10-28', '10000-01-01'],
  ['21:37:01.5', '24:00:00'],
  ['\\x0102ff', '\\x', 'odd'],
  ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
  ['{1,2,3}', '{}', '{1,NULL}', 'not an array'],
  ['{"a b","c\\"d",NULL}', '{é}'],
  ['(1,2)', 'mood "ok"'],
  ['1 day 02:03:04', '@ 1 day ago'],
];

function rowValues(seed: number, columns = COLUMNS.length): TupleValue[] {
  return Array.from({ length: columns }, (_, i) => {
    const samples = SAMPLES[i]!;
    const pick = (seed * 7 + i * 13) % (samples.length + 2);
    return pick < samples.length ? samples[pick]! : pick === samples.length ? null : samples[0]!;
  });
}

function tupleBytes(values: readonly TupleValue[]): Buffer {
  const parts: Buffer[] = [Buffer.from([values.length >> 8, values.length & 0xff])];
  for (const value of values) {
    if (value === null) parts.push(Buffer.from('n'));
    else if (value === undefined) parts.push(Buffer.from('u'));
    else {
      const text = Buffer.from(value, 'utf8');
      const head = Buffer.alloc(5);
      head[0] = 0x74;
      head.writeUInt32BE(text.length, 1);
      parts.push(head, text);
    }
  }
  return Buffer.concat(parts);
}

function rowMessage(
  tag: 'I' | 'U' | 'D',
  newValues: readonly TupleValue[] | null,
  old: { kind: 'K' | 'O'; values: readonly TupleValue[] } | null,
): Uint8Array {
  const head = Buffer.alloc(5);
  head[0] = tag.charCodeAt(0);
  head.writeUInt32BE(16400, 1);
  const parts = [head];
  if (old) parts.push(Buffer.from(old.kind), tupleBytes(old.values));
  if (newValues) parts.push(Buffer.from('N'), tupleBytes(newValues));
  // Inside a larger buffer, at an offset, as in a batch.
  const whole = Buffer.concat([Buffer.from('garbage'), ...parts, Buffer.from('tail')]);
  return new Uint8Array(whole.buffer, whole.byteOffset + 7, whole.length - 11);
}

/** The context each encoder was made with, for the oracle. */
const contexts = new WeakMap<ChangeEncoder, EncoderContext>();

function encoderOf(relation: RelationMessage, ctx: EncoderContext): ChangeEncoder {
  const encoder = new ChangeEncoder(relation, ctx);
  contexts.set(encoder, ctx);
  return encoder;
}

function stringPath(encoder: ChangeEncoder, bytes: Uint8Array, position: ChangePosition): EncodedBody {
  const message = decodePgoutput(bytes);
  if (message.tag === 'insert' || message.tag === 'update' || message.tag === 'delete')
    return referenceEnvelope(encoder.relation, contexts.get(encoder)!, message, position);
  throw new Error('not a row');
}

const CTX: EncoderContext = {
  subjectPrefix: 'sequin',
  databaseName: 'shöp',
  idempotencyPrefix: idempotencyKeyPrefix('7421234567890123456', 'shöp'),
  consumerId: 'slot',
  consumerName: 'wal2nats',
};

function check(encoder: ChangeEncoder, bytes: Uint8Array, position: ChangePosition, out: JsonBytes): void {
  const result: RowBytesResult = { subject: '', action: 'insert', msgId: '', msgIdStart: -1, msgIdEnd: -1 };
  const expected = stringPath(encoder, bytes, position);
  assert.equal(encoder.encodeRowBytes(bytes, position, out, result), true);
  assert.equal(out.buf.toString('utf8', 0, out.pos), expected.json);
  const msgId = result.msgId ?? out.buf.toString('utf8', result.msgIdStart, result.msgIdEnd);
  assert.deepEqual(
    { subject: result.subject, action: result.action, msgId },
    { subject: expected.subject, action: expected.action, msgId: expected.msgId },
  );
}

describe('ChangeEncoder.encodeRowBytes', () => {
  for (const messageKind of ['changes', 'records'] as const) {
    for (const identity of ['d', 'f'] as const) {
      it(`writes what the string path writes (${messageKind}, replica identity ${identity})`, () => {
        const ctx = { ...CTX, messageKind };
        const encoder = encoderOf(relation(identity), ctx);
        const out = new JsonBytes(64);
        for (let seed = 0; seed < 60; seed++) {
          const position: ChangePosition = {
            commitLsn: 123456789 + seed,
            commitIdx: seed,
            commitTime: 783_000_000_000_000 + seed * 1001,
            annotations: seed % 5 === 0 ? '{"user":"ü"}' : null,
          };
          const values = rowValues(seed);
          const older = rowValues(seed + 3);
          // Some values unchanged between old and new, some TOAST columns not sent.
          const newer = values.map((v, i) => (i % 4 === 0 ? older[i]! : v));
          check(encoder, rowMessage('I', values, null), position, out);
          check(encoder, rowMessage('U', newer, null), position, out);
          check(encoder, rowMessage('U', newer, { kind: 'O', values: older }), position, out);
          check(
            encoder,
            rowMessage('U', newer, { kind: 'K', values: older.map((v, i) => (i === 0 ? v : null)) }),
            position,
            out,
          );
          // The key an unchanged TOASTed value: taken from the old key, other columns not.
          const keyNotSent = newer.map((v, i) => (i === 0 || i % 3 === 1 ? undefined : v));
          check(
            encoder,
            rowMessage('U', keyNotSent, {
              kind: 'K',
              values: older.map((v, i) => (i === 0 ? (v ?? 'k') : null)),
            }),
            position,
            out,
          );
          check(
            encoder,
            rowMessage('D', null, { kind: identity === 'f' ? 'O' : 'K', values: older }),
            position,
            out,
          );
          // Fewer columns than the relation (a column added since): the rest count as not sent.
          check(encoder, rowMessage('I', values.slice(0, 5), null), position, out);
        }
      });
    }
  }

  it('uses the primary key from the context and an escaped idempotency prefix', () => {
    const encoder = encoderOf(relation('f'), {
      ...CTX,
      idempotencyPrefix: 'odd "prefix":',
      primaryKeys: new Map([['public.every "type"', ['txt', 'id']]]),
    });
    const out = new JsonBytes();
    for (let seed = 0; seed < 20; seed++) {
      const position: ChangePosition = { commitLsn: 5, commitIdx: seed, commitTime: 0, annotations: null };
      check(encoder, rowMessage('I', rowValues(seed), null), position, out);
      check(
        encoder,
        rowMessage('U', rowValues(seed), { kind: 'O', values: rowValues(seed + 1) }),
        position,
        out,
      );
    }
  });

  it('declines what it cannot read, so that the decoder reports it', () => {
    const encoder = encoderOf(relation('d'), CTX);
    const out = new JsonBytes();
    const result: RowBytesResult = {
      subject: '',
      action: 'insert',
      msgId: null,
      msgIdStart: -1,
      msgIdEnd: -1,
    };
    const position: ChangePosition = { commitLsn: 1, commitIdx: 0, commitTime: 0, annotations: null };
    const good = rowMessage('I', rowValues(1), null);
    assert.equal(
      encoder.encodeRowBytes(good.subarray(0, good.length - 3), position, out, result),
      false,
      'truncated',
    );
    const binary = Buffer.from(good);
    binary[8] = 0x62; // the first value's kind: b (binary)
    assert.equal(encoder.encodeRowBytes(binary, position, out, result), false, 'binary value');
    assert.equal(
      encoder.encodeRowBytes(Buffer.from([0x42, 0, 0, 0, 0, 0]), position, out, result),
      false,
      'not a row message',
    );
    const update = rowMessage('U', rowValues(1), null);
    assert.equal(
      encoder.encodeReadBytes(update, position, out, result),
      false,
      'a read that is not an Insert',
    );
  });

  it('reads a row as the decoder does, bytes after its last tuple included', () => {
    // The decoder ignores them; declining would stop the shard on a row the decoder reads.
    const encoder = encoderOf(relation('d'), CTX);
    const position: ChangePosition = { commitLsn: 1, commitIdx: 0, commitTime: 0, annotations: null };
    const good = rowMessage('I', rowValues(2), null);
    check(encoder, Buffer.concat([good, Buffer.from([0x6e, 0x6e])]), position, new JsonBytes());
  });
});
