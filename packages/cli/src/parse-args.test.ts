import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
});
