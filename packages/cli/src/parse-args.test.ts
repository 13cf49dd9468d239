import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Wal2NatsError } from '@wal2nats/core';
import { parseArgs } from './parse-args.js';

describe('parseArgs', () => {
  it('joins a list option given several times instead of keeping only the last', () => {
    const { flags } = parseArgs(['backfill', '--table', 'public.a', '--table=public.b,public.c']);
    assert.equal(flags['table'], 'public.a,public.b,public.c');
  });

  it('keeps the last value of other options', () => {
    const { flags } = parseArgs(['run', '--slot', 'a', '--slot', 'b', '--jetstream']);
    assert.equal(flags['slot'], 'b');
    assert.equal(flags['jetstream'], true);
  });

  it('reads --name=value, --flag, --no-flag, -h and -v', () => {
    const args = parseArgs(['run', '--slot=s', '--jetstream', '--no-initial-snapshot', '-h']);
    assert.deepEqual(args.flags, { slot: 's', jetstream: true, 'initial-snapshot': false });
    assert.equal(args.help, true);
    assert.equal(parseArgs(['-v']).version, true);
    assert.equal(
      parseArgs(['run', '--jetstream=false']).flags['jetstream'],
      'false',
      'the schema reads the text',
    );
  });

  it('refuses an option without its value, rather than take the next option as the value', () => {
    assert.throws(
      () => parseArgs(['run', '--slot', '--jetstream']),
      (e) =>
        e instanceof Wal2NatsError &&
        /--slot: it needs a value/.test(e.message) &&
        e.hint === 'write --slot NAME',
    );
    assert.throws(() => parseArgs(['run', '--slot']), /--slot: it needs a value/);
    assert.equal(
      parseArgs(['run', '--slot=--odd']).flags['slot'],
      '--odd',
      'an inline value is taken as it is',
    );
  });

  it('passes an unknown option on with its value, for the schema to name it', () => {
    assert.deepEqual(parseArgs(['run', '--nats-hots', 'x']).flags, { 'nats-hots': 'x' });
    assert.deepEqual(parseArgs(['run', '--no-slot']).flags, { 'no-slot': true });
  });

  it('takes the first word as the command and refuses a second', () => {
    assert.equal(parseArgs(['--slot', 'a', 'backfill']).command, 'backfill');
    assert.throws(() => parseArgs(['run', 'now']), /unexpected argument "now"/);
  });
});
