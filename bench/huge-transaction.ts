/**
 * `node --import tsx bench/huge-transaction.ts` — peak memory of wal2nats while one huge
 * transaction streams through (issue 4: "a 1,000,000-row transaction streams through in bounded
 * memory — no buffering of whole transactions").
 *
 * 1. Starts a throwaway Postgres and nats-server (test/harness).
 * 2. For each size in --rows (default 100000,1000000): a fresh database with one table
 *    (int primary key, ~100-byte text), `wal2nats run` started on it and streaming, then ONE
 *    `INSERT … SELECT generate_series(1, N)` — a single transaction of N rows.
 * 3. Counts the messages on `sequin.changes.<db>.>` until all N arrived (and checks, on every
 *    1000th, that commit_idx grows and the commit LSN is the transaction's), sampling the
 *    wal2nats process's RSS every 100 ms; reads its VmHWM (the kernel's peak RSS of the whole
 *    process, every thread included) at the end.
 * 4. Prints a table: rows, seconds from COMMIT to the last message, rows/s, RSS before the
 *    transaction, peak RSS (VmHWM), and writes bench/results/huge-transaction-<time>.json.
 *
 * If memory were proportional to the transaction, the 1,000,000-row peak would be about ten
 * times the 100,000-row one; bounded memory means both peaks are about the same, set by
 * --mailbox-capacity (undelivered changes per shard before reading pauses).
 *
 * Options: --rows N[,N...] | --mailbox-capacity N (wal2nats default) | --shards N (2)
 *          --timeout SECONDS (900 per size) | --verbose | --no-json
 * Exit code 0 when every message arrived, 1 otherwise.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Wal2NatsProcess } from '../test/support/wal2nats-process.js';
import { memoryStatus as memory } from './lib/proc-stats.js';
import { runMain, withServers, writeResult } from './lib/servers.js';

const { values: opts } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000,1000000' },
    'mailbox-capacity': { type: 'string' },
    shards: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '900' },
    verbose: { type: 'boolean', default: false },
    'no-json': { type: 'boolean', default: false },
  },
});

const sizes = opts.rows.split(',').map((s) => Number(s.trim()));
if (sizes.some((n) => !Number.isInteger(n) || n <= 0))
  throw new Error(`--rows: expected whole numbers, got ${opts.rows}`);
const timeoutMs = Number(opts.timeout) * 1000;

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

interface Result {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  rssBeforeMiB: number;
  peakRssMiB: number;
  maxSampledRssMiB: number;
  insertSeconds: number;
  ok: boolean;
  problems: string[];
}

async function main(): Promise<number> {
  const results: Result[] = [];
  await withServers({ nats: { jetstream: false } }, async ({ pg, nats, nc }) => {
    for (const rows of sizes) {
      const database = `huge_${rows}`;
      const url = await pg.createDatabase(database);
      const client = await pg.connect(database);
      await client.query('CREATE TABLE huge (id int PRIMARY KEY, pad text)');

      let count = 0;
      let lastIdx = -1;
      let commitLsn: number | undefined;
      const problems: string[] = [];
      let resolveAll: () => void = () => {};
      const all = new Promise<void>((resolve) => {
        resolveAll = resolve;
      });
      const sub = nc.subscribe(`sequin.changes.${database}.>`, {
        callback: (_error, msg) => {
          count++;
          if (count % 1000 === 0 || count === rows) {
            const meta = (
              JSON.parse(msg.string()) as { metadata: { commit_idx: number; commit_lsn: number } }
            ).metadata;
            commitLsn ??= meta.commit_lsn;
            if (
              meta.commit_lsn !== commitLsn ||
              meta.commit_idx <= lastIdx ||
              meta.commit_idx !== count - 1
            ) {
              if (problems.length < 5)
                problems.push(
                  `message ${count}: commit_lsn ${meta.commit_lsn}, commit_idx ${meta.commit_idx}`,
                );
            }
            lastIdx = meta.commit_idx;
          }
          if (count === rows) resolveAll();
        },
      });
      await nc.flush();

      const extra = [
        '--shards',
        opts.shards,
        ...(opts['mailbox-capacity'] ? ['--mailbox-capacity', opts['mailbox-capacity']] : []),
      ];
      const w2n = new Wal2NatsProcess(
        [
          'run',
          '--postgres-url',
          url,
          '--nats-url',
          nats.url,
          '--slot',
          database,
          '--http-port',
          '0',
          '--log-level',
          'info',
          ...extra,
        ],
        {},
        { verbose: opts.verbose },
      );
      try {
        await w2n.streaming();
        const before = memory(w2n.pid);
        let maxSampled = before?.rss ?? 0;
        const sampler = setInterval(() => {
          const m = memory(w2n.pid);
          if (m && m.rss > maxSampled) maxSampled = m.rss;
        }, 100);

        const started = performance.now();
        await client.query(`INSERT INTO huge SELECT g, repeat('p', 100) FROM generate_series(1, ${rows}) g`);
        const committed = performance.now();
        let timer: NodeJS.Timeout | undefined;
        const arrived = await Promise.race([
          all.then(() => true),
          new Promise<false>((resolve) => {
            timer = setTimeout(() => resolve(false), timeoutMs);
          }),
        ]);
        clearTimeout(timer);
        const done = performance.now();
        clearInterval(sampler);
        const after = memory(w2n.pid);
        if (!arrived) problems.push(`only ${count} of ${rows} messages arrived within ${opts.timeout} s`);
        const seconds = (done - committed) / 1000;
        const result: Result = {
          rows,
          seconds: Number(seconds.toFixed(2)),
          rowsPerSecond: Math.round(rows / seconds),
          rssBeforeMiB: Number(mib(before?.rss ?? 0)),
          peakRssMiB: Number(mib(after?.hwm ?? 0)),
          maxSampledRssMiB: Number(mib(maxSampled)),
          insertSeconds: Number(((committed - started) / 1000).toFixed(2)),
          ok: arrived && problems.length === 0,
          problems,
        };
        results.push(result);
        console.log(
          `${rows} rows: COMMIT after ${result.insertSeconds} s, all delivered ${result.seconds} s later (${result.rowsPerSecond} rows/s); ` +
            `RSS before ${result.rssBeforeMiB} MiB, peak (VmHWM) ${result.peakRssMiB} MiB${problems.length ? `; PROBLEMS: ${problems.join('; ')}` : ''}`,
        );
        const stopped = await w2n.terminate();
        if (stopped.exit.code !== 0) problems.push(`wal2nats exited with ${JSON.stringify(stopped.exit)}`);
      } finally {
        sub.unsubscribe();
        if (w2n.running) await w2n.terminate(5_000);
        await client.end();
      }
    }
  });

  console.log(
    '\n| rows in the transaction | delivered in (s) | rows/s | RSS before (MiB) | peak RSS, VmHWM (MiB) |',
  );
  console.log('|---:|---:|---:|---:|---:|');
  for (const r of results)
    console.log(
      `| ${r.rows.toLocaleString('en')} | ${r.seconds} | ${r.rowsPerSecond.toLocaleString('en')} | ${r.rssBeforeMiB} | ${r.peakRssMiB} |`,
    );
  if (!opts['no-json']) {
    const file = writeResult('huge-transaction', JSON.stringify({ options: opts, results }, null, 2));
    console.log(`\nwrote ${file}`);
  }
  return results.every((r) => r.ok) ? 0 : 1;
}

runMain(main);
