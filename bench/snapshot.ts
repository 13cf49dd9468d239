/**
 * `node --import tsx bench/snapshot.ts` — the initial snapshot's rate (issue 4: "the snapshot
 * rate (rows/s) of a 1,000,000-row table") and its peak memory.
 *
 * 1. Starts a throwaway Postgres and nats-server (test/harness).
 * 2. Creates a table of --rows rows (int primary key, ~100-byte text; ANALYZEd so that the
 *    progress lines have an ETA).
 * 3. Runs `wal2nats run --initial-snapshot` (a new slot), counts the `read` messages on
 *    `sequin.changes.<db>.>`, and measures from the "initial snapshot: taken" log line to the
 *    last message, sampling the process's RSS and reading its VmHWM at the end.
 * 4. Prints rows/s and the peak RSS, the progress lines wal2nats logged, and writes
 *    bench/results/snapshot-<time>.json.
 *
 * Options: --rows N (1000000) | --timeout SECONDS (900) | --profile DIR (run wal2nats with --cpu-prof)
 *          --verbose | --no-json
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Wal2NatsProcess } from '../test/support/wal2nats-process.js';
import { memoryStatus as memory } from './lib/proc-stats.js';
import { runMain, withServers, writeResult } from './lib/servers.js';

const { values: opts } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    timeout: { type: 'string', default: '900' },
    profile: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    'no-json': { type: 'boolean', default: false },
  },
});
const rows = Number(opts.rows);

async function main(): Promise<number> {
  return withServers({ nats: { jetstream: false } }, async ({ pg, nats, nc }) => {
    const url = await pg.createDatabase('snapbench');
    const client = await pg.connect('snapbench');
    const filled = performance.now();
    await client.query(
      `CREATE TABLE big (id int PRIMARY KEY, pad text); INSERT INTO big SELECT g, repeat('p', 100) FROM generate_series(1, ${rows}) g; ANALYZE big`,
    );
    console.log(`filled ${rows} rows in ${((performance.now() - filled) / 1000).toFixed(1)} s`);

    let count = 0;
    let lastAt = 0;
    let resolveAll: () => void = () => {};
    const all = new Promise<void>((resolve) => {
      resolveAll = resolve;
    });
    const sub = nc.subscribe('sequin.changes.snapbench.>', {
      callback: () => {
        count++;
        if (count === rows) {
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
        'snapbench',
        '--initial-snapshot',
        '--http-port',
        '0',
        '--log-level',
        'info',
      ],
      {},
      {
        verbose: opts.verbose,
        ...(opts.profile ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] } : {}),
      },
    );
    let maxRss = 0;
    const sampler = setInterval(() => {
      const m = memory(w2n.pid);
      if (m && m.rss > maxRss) maxRss = m.rss;
    }, 100);
    try {
      const taken = await w2n.waitForTimedLog(
        (l) => l.msg === 'initial snapshot: taken',
        'the snapshot',
        60_000,
      );
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([
        all.then(() => true),
        new Promise<false>((r) => (timer = setTimeout(() => r(false), Number(opts.timeout) * 1000))),
      ]);
      clearTimeout(timer);
      const done = await w2n.waitForTimedLog(
        (l) => l.msg === 'initial snapshot: done',
        'the done line',
        60_000,
      );
      await w2n.streaming();
      const peak = memory(w2n.pid)?.hwm ?? 0;
      const seconds = (lastAt - taken.at) / 1000;
      const result = {
        rows,
        arrived: count,
        ok,
        seconds: Number(seconds.toFixed(2)),
        rowsPerSecond: Math.round(rows / seconds),
        loggedRowsPerSecond: done.line.rows_per_s,
        peakRssMiB: Number((peak / 1024 / 1024).toFixed(1)),
        maxSampledRssMiB: Number((maxRss / 1024 / 1024).toFixed(1)),
      };
      for (const l of w2n.timedLines)
        if (String(l.line.msg).startsWith('initial snapshot')) console.log(JSON.stringify(l.line));
      console.log(
        `\n${rows} rows: all read events delivered ${result.seconds} s after the snapshot was taken: ${result.rowsPerSecond} rows/s; peak RSS (VmHWM) ${result.peakRssMiB} MiB`,
      );
      if (!opts['no-json']) {
        const file = writeResult('snapshot', JSON.stringify(result, null, 2));
        console.log(`wrote ${file}`);
      }
      await w2n.terminate();
      return ok ? 0 : 1;
    } finally {
      clearInterval(sampler);
      sub.unsubscribe();
      if (w2n.running) await w2n.terminate(5_000);
      await client.end();
    }
  });
}

runMain(main);
