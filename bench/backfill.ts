/**
 * `node --import tsx bench/backfill.ts` — the rate of `wal2nats backfill` (rows/s) of one table
 * while `wal2nats run` streams, and the peak memory of the process.
 *
 * Starts a throwaway Postgres and nats-server, fills a table of --rows rows (int primary key,
 * ~100-byte text, ANALYZEd), starts `wal2nats run`, requests the backfill with `wal2nats backfill
 * --wait`, counts the `read` messages, and prints rows/s from the "backfill: started" log line
 * to the last message.
 *
 * Options: --rows N (300000) | --chunk-rows N (5000) | --timeout SECONDS (900) | --verbose
 *          --profile DIR (run wal2nats with --cpu-prof; summarise with bench/profile-summary.ts)
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CLI_PATH, Wal2NatsProcess } from '../test/support/wal2nats-process.js';
import { memoryStatus } from './lib/proc-stats.js';
import { runMain, withServers } from './lib/servers.js';

const { values: opts } = parseArgs({
  options: {
    rows: { type: 'string', default: '300000' },
    'chunk-rows': { type: 'string', default: '5000' },
    timeout: { type: 'string', default: '900' },
    verbose: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
});
const rows = Number(opts.rows);

async function main(): Promise<number> {
  return withServers({ nats: { jetstream: false } }, async ({ pg, nats, nc }) => {
    const url = await pg.createDatabase('bfbench');
    const client = await pg.connect('bfbench');
    await client.query(
      `CREATE TABLE big (id int PRIMARY KEY, pad text); INSERT INTO big SELECT g, repeat('p', 100) FROM generate_series(1, ${rows}) g; ANALYZE big`,
    );
    let count = 0;
    let lastAt = 0;
    let resolveAll: () => void = () => {};
    const all = new Promise<void>((resolve) => (resolveAll = resolve));
    const sub = nc.subscribe('sequin.changes.bfbench.public.big.read', {
      callback: () => {
        if (++count === rows) {
          lastAt = performance.now();
          resolveAll();
        }
      },
    });
    await nc.flush();
    const w2n = new Wal2NatsProcess(
      [
        'run',
        '--postgres-url',
        url,
        '--nats-url',
        nats.url,
        '--slot',
        'bfbench',
        '--http-port',
        '0',
        '--log-level',
        'info',
        '--backfill-chunk-rows',
        String(opts['chunk-rows']),
      ],
      {},
      {
        verbose: opts.verbose,
        ...(opts.profile ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] } : {}),
      },
    );
    try {
      await w2n.streaming();
      execFileSync(
        process.execPath,
        [CLI_PATH, 'backfill', '--table', 'public.big', '--postgres-url', url, '--slot', 'bfbench'],
        { stdio: opts.verbose ? 'inherit' : 'ignore' },
      );
      const started = await w2n.waitForTimedLog(
        (l) => l.msg === 'backfill: started',
        'the backfill to start',
        60_000,
      );
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([
        all.then(() => true),
        new Promise<false>((r) => (timer = setTimeout(() => r(false), Number(opts.timeout) * 1000))),
      ]);
      clearTimeout(timer);
      const seconds = (lastAt - started.at) / 1000;
      const peak = memoryStatus(w2n.pid)?.hwm ?? 0;
      const result = {
        rows,
        chunk_rows: Number(opts['chunk-rows']),
        ok,
        seconds: Math.round(seconds * 10) / 10,
        rows_per_s: Math.round(rows / seconds),
        peak_rss_mib: Math.round((peak / 2 ** 20) * 10) / 10,
      };
      console.log(JSON.stringify(result));
      for (const { line } of w2n.timedLines)
        if (String(line.msg).startsWith('backfill:')) console.log(JSON.stringify(line));
      await w2n.terminate();
      return ok ? 0 : 1;
    } finally {
      sub.unsubscribe();
      if (w2n.running) await w2n.terminate(5_000);
      await client.end();
    }
  });
}

runMain(main);
