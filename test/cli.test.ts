/**
 * The command's contract for bad input: exit 2 naming the option for bad configuration, exit 3
 * with the fix when Postgres refuses us for good, and secrets never printed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type PgServer } from './harness/index.js';
import { Wal2NatsProcess } from './support/wal2nats-process.js';

async function runToExit(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; output: string }> {
  const w2n = new Wal2NatsProcess(args, env);
  const code = await w2n.exited;
  // Plain lines as they were printed, JSON log lines as JSON.
  const lines = w2n.lines.map((l) =>
    Object.keys(l).length === 1 && typeof l.msg === 'string' ? l.msg : JSON.stringify(l),
  );
  return { code, output: `${w2n.stdout.join('')}\n${lines.join('\n')}` };
}

describe('wal2nats command line', () => {
  it('prints help for run, generated from the config schema', async () => {
    const { code, output } = await runToExit(['run', '--help']);
    assert.equal(code, 0);
    for (const flag of [
      '--postgres-url',
      '--slot',
      '--nats-url',
      '--subject-prefix',
      '--max-backoff',
      'WAL2NATS_POSTGRES_URL',
    ])
      assert.ok(output.includes(flag), `help mentions ${flag}`);
  });

  it('exits 2 naming a missing required option', async () => {
    const { code, output } = await runToExit(['run'], { WAL2NATS_POSTGRES_URL: '' });
    assert.equal(code, 2);
    assert.match(output, /--postgres-url: it is required/);
  });

  it('exits 2 naming an invalid value, from flags and from the environment', async () => {
    const flag = await runToExit([
      'run',
      '--postgres-url',
      'postgres://x@127.0.0.1:1/db',
      '--nats-port',
      'abc',
    ]);
    assert.equal(flag.code, 2);
    assert.match(flag.output, /--nats-port: "abc" is not a whole number/);
    const env = await runToExit(['run', '--postgres-url', 'postgres://x@127.0.0.1:1/db'], {
      WAL2NATS_MAX_BACKOFF: 'soon',
    });
    assert.equal(env.code, 2);
    assert.match(env.output, /--max-backoff: "soon" is not a duration.*WAL2NATS_MAX_BACKOFF/);
  });

  it('exits 2 on an unknown option', async () => {
    const { code, output } = await runToExit([
      'run',
      '--postgres-url',
      'postgres://x@h/db',
      '--nats-hots',
      'x',
    ]);
    assert.equal(code, 2);
    assert.match(output, /--nats-hots: unknown option/);
  });
});

describe('wal2nats against a Postgres that refuses it', () => {
  let pg: PgServer;
  before(async () => {
    pg = await startPostgres({ walLevel: 'replica' });
  });
  after(async () => {
    await pg?.dispose();
  });

  it('exits 3 with the fix when wal_level is not logical, without printing the password', async () => {
    const url = pg.url.replace('postgres@', 'postgres:s3cret-pass@');
    const { code, output } = await runToExit([
      'run',
      '--postgres-url',
      url,
      '--nats-url',
      'nats://127.0.0.1:1',
      '--http-port',
      '0',
    ]);
    assert.equal(code, 3);
    assert.match(output, /wal_level = replica; logical replication needs wal_level = logical/);
    assert.match(output, /ALTER SYSTEM SET wal_level = 'logical'/);
    assert.ok(!output.includes('s3cret-pass'), 'the password is never printed');
  });
});
