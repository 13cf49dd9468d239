import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  holderFingerprint,
  holderMismatch,
  holderName,
  parseHolderName,
  type PublishingOptions,
} from './holder-name.js';

const options: PublishingOptions = {
  publication: 'wal2nats',
  subjectPrefix: 'sequin',
  databaseName: 'shop',
  messageKind: 'changes',
  tables: [],
  excludeTables: [],
  actions: [],
  jetstream: false,
};

test('a holder name round-trips and fits in 63 bytes even with a long host name', () => {
  for (const host of ['db-1', 'a'.repeat(200), 'host with spaces.example']) {
    const holder = { host, pid: 4_194_304, ...holderFingerprint(options) };
    const name = holderName(holder);
    assert.ok(Buffer.byteLength(name) <= 63, name);
    const parsed = parseHolderName(name);
    assert.ok(parsed);
    assert.equal(parsed.pid, holder.pid);
    assert.ok(host.replace(/ /g, '_').startsWith(parsed.host));
    assert.equal(holderMismatch(holder, parsed), null);
  }
});

test('names of other consumers are not wal2nats holders', () => {
  for (const name of [
    'wal2nats',
    'psql',
    'pg_recvlogical',
    '',
    null,
    'wal2nats host 12 abc-def',
    'wal2nats h 1 0000000g-00000000',
  ]) {
    assert.equal(parseHolderName(name), null, String(name));
  }
});

test('the fingerprint tells a different publication from different subject options', () => {
  const ours = { host: 'a', pid: 1, ...holderFingerprint(options) };
  const otherPublication = { host: 'b', pid: 2, ...holderFingerprint({ ...options, publication: 'other' }) };
  assert.equal(holderMismatch(ours, otherPublication), 'publication');
  for (const change of [
    { subjectPrefix: 'acme' },
    { databaseName: 'shop2' },
    { messageKind: 'records' },
    { tables: ['public.a'] },
    { excludeTables: ['public.b'] },
    { actions: ['insert'] },
    { jetstream: true },
  ]) {
    const theirs = { host: 'b', pid: 2, ...holderFingerprint({ ...options, ...change }) };
    assert.equal(holderMismatch(ours, theirs), 'subjects', JSON.stringify(change));
  }
  // List boundaries count: ["a,b","c"] is not ["a","b,c"].
  assert.notEqual(
    holderFingerprint({ ...options, tables: ['a,b', 'c'] }).subjects,
    holderFingerprint({ ...options, tables: ['a', 'b,c'] }).subjects,
  );
});
