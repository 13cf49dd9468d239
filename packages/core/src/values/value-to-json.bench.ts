// Micro-benchmark of valueToJson (not a test): `node --import tsx packages/core/src/values/value-to-json.bench.ts`.
// Prints ns per row of 8 mixed columns and per column, and quoteJson against plain
// JSON.stringify for strings that need no escaping (why quoteJson scans short strings first).

import { quoteJson } from './json-text.js';
import { PgArrayTypeOid, PgTypeOid } from './type-oids.js';
import { valueToJson } from './value-to-json.js';

// Decoded from bytes like the pgoutput decoder does (fresh flat strings, not interned literals).
const decoder = new TextDecoder();
const fresh = (s: string): string => decoder.decode(new TextEncoder().encode(s));

const columns: ReadonlyArray<readonly [number, string]> = [
  [PgTypeOid.int8, '9223372036854775807'],
  [PgTypeOid.text, 'pending shipment to Zürich'],
  [PgTypeOid.numeric, '199.99'],
  [PgTypeOid.bool, 't'],
  [PgTypeOid.timestamptz, '2024-10-28 21:37:01.12747+00'],
  [PgTypeOid.jsonb, '{"sku": "A-1", "qty": 2}'],
  [PgArrayTypeOid.int4, '{1,2,3,NULL}'],
  [PgTypeOid.uuid, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
];
const row = columns.map(([oid, text]) => [oid, fresh(text)] as const);

function timeRows(rounds: number): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < row.length; c++) {
      const [oid, text] = row[c]!;
      sink += valueToJson(oid, text).length;
    }
  }
  const ns = Number(process.hrtime.bigint() - start);
  if (sink === 0) throw new Error('unreachable: keeps the work alive');
  return ns / rounds;
}

function timeStrings(quote: (s: string) => string, strings: readonly string[], rounds: number): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < strings.length; i++) sink += quote(strings[i]!).length;
  }
  const ns = Number(process.hrtime.bigint() - start);
  if (sink === 0) throw new Error('unreachable: keeps the work alive');
  return ns / rounds / strings.length;
}

const ROUNDS = 1_000_000;
timeRows(ROUNDS); // warm-up (JIT)
const perRow = Math.min(timeRows(ROUNDS), timeRows(ROUNDS), timeRows(ROUNDS));
console.log(
  `valueToJson: ${perRow.toFixed(0)} ns per 8-column row, ${(perRow / 8).toFixed(1)} ns per column`,
);

const stringify = (s: string): string => JSON.stringify(s);
for (const length of [8, 32, 128, 512]) {
  const strings = Array.from({ length: 8 }, (_, i) =>
    fresh('pending shipment to Zurich, '.repeat(20).slice(i, i + length)),
  );
  const line = [`${length} chars:`];
  for (const [name, quote] of [
    ['quoteJson', quoteJson],
    ['JSON.stringify', stringify],
  ] as const) {
    timeStrings(quote, strings, ROUNDS / 4);
    const ns = Math.min(timeStrings(quote, strings, ROUNDS / 4), timeStrings(quote, strings, ROUNDS / 4));
    line.push(`${name} ${ns.toFixed(1)} ns`);
  }
  console.log(line.join('  '));
}
