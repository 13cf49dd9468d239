/**
 * What Postgres can send: the same slot contents read by consumers that do nothing with them.
 *  - pg_recvlogical (C, libpq) writing to /dev/null, stopped at the end LSN (--endpos);
 *  - a bare Node reader: pg-logical-replication with a plugin that hands over raw bytes, counting
 *    insert/update/delete messages and acknowledging — wal2nats's own reader minus the routing.
 * The faster of the two is the Postgres ceiling.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { LogicalReplicationService } from 'pg-logical-replication';
import { postgresBin } from '../../test/harness/binaries.js';
import { PUBLICATION } from './layout.js';
import type { Layout } from './layout.js';
import { cpuSeconds } from './proc-stats.js';
import { COMMIT, DELETE, INSERT, RawPlugin, UPDATE } from './raw-pgoutput.js';

export interface CeilingRun {
  consumer: string;
  ok: boolean;
  failures: string[];
  changes: number;
  seconds: number;
  changesPerSecond: number;
  walMBPerSecond: number;
  cpuSeconds: number | null;
}

/** pg_recvlogical from the slot to /dev/null until the end LSN; the wall time of the whole process. */
export async function runPgRecvlogical(
  layout: Layout,
  slot: string,
  timeoutMs = 600_000,
): Promise<CeilingRun> {
  const url = new URL(layout.url);
  const args = [
    '-h',
    url.hostname,
    '-p',
    url.port,
    '-U',
    decodeURIComponent(url.username),
    '-d',
    layout.database,
    '--slot',
    slot,
    '--start',
    '--endpos',
    layout.endLsn,
    '--no-loop',
    '-f',
    '/dev/null',
    '-o',
    'proto_version=1',
    '-o',
    `publication_names=${PUBLICATION}`,
    // Report our position often enough, as a real consumer would.
    '-s',
    '1',
    '-F',
    '1',
  ];
  const failures: string[] = [];
  const started = performance.now();
  const child = spawn(postgresBin('pg_recvlogical'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  let cpu: number | null = null;
  // The child's CPU, read just before it exits: poll (it is a single process).
  const poll = setInterval(() => {
    const c = child.pid ? cpuSeconds(child.pid) : undefined;
    if (c !== undefined) cpu = c;
  }, 100);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
  ]);
  const seconds = (performance.now() - started) / 1000;
  clearTimeout(timer);
  clearInterval(poll);
  if (code === 'timeout') {
    child.kill('SIGKILL');
    failures.push(`pg_recvlogical did not reach ${layout.endLsn} within ${timeoutMs / 1000} s`);
  } else if (code !== 0) {
    failures.push(`pg_recvlogical exited with ${code}: ${stderr.trim().slice(-500)}`);
  }
  return ceilingRun('pg_recvlogical', layout, failures, seconds, cpu);
}

/** The bare reader: receives raw pgoutput messages, counts row changes, acknowledges each commit's LSN every 100 ms. */
export async function runBareReader(layout: Layout, slot: string, timeoutMs = 600_000): Promise<CeilingRun> {
  const url = new URL(layout.url);
  const service = new LogicalReplicationService(
    {
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      database: layout.database,
    },
    { acknowledge: { auto: false, timeoutSeconds: 0 } },
  );
  const plugin = new RawPlugin();
  const failures: string[] = [];
  let count = 0;
  let lastCommitLsn = '';
  let acked = '';
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  service.on('data', (lsn: string, raw: Buffer) => {
    const type = raw[0];
    if (type === INSERT || type === UPDATE || type === DELETE) {
      count++;
    } else if (type === COMMIT) {
      lastCommitLsn = lsn;
      if (count >= layout.changes) done();
    }
  });
  const ack = setInterval(() => {
    if (lastCommitLsn && lastCommitLsn !== acked) {
      acked = lastCommitLsn;
      void service.acknowledge(lastCommitLsn).catch(() => {});
    }
  }, 100);
  let streamError: Error | undefined;
  service.on('error', (err: Error) => {
    streamError = err;
    done();
  });
  void service.subscribe(plugin as never, slot).catch((err: unknown) => {
    streamError = err instanceof Error ? err : new Error(String(err));
    done();
  });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    finished.then(() => 'done' as const),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
  ]);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearTimeout(timer);
  clearInterval(ack);
  if (lastCommitLsn) await service.acknowledge(lastCommitLsn).catch(() => {});
  await service.stop().catch(() => {});
  if (streamError) failures.push(`the bare reader failed: ${streamError.message}`);
  if (outcome === 'timeout')
    failures.push(
      `the bare reader counted ${count} of ${layout.changes} changes within ${timeoutMs / 1000} s`,
    );
  else if (count !== layout.changes)
    failures.push(`the bare reader counted ${count} changes, expected ${layout.changes}`);
  return ceilingRun(
    'bare reader (pg-logical-replication, raw)',
    layout,
    failures,
    seconds,
    (cpu.user + cpu.system) / 1e6,
  );
}

function ceilingRun(
  consumer: string,
  layout: Layout,
  failures: string[],
  seconds: number,
  cpuSeconds: number | null,
): CeilingRun {
  return {
    consumer,
    ok: failures.length === 0,
    failures,
    changes: layout.changes,
    seconds,
    changesPerSecond: layout.changes / seconds,
    walMBPerSecond: layout.walBytes / 1e6 / seconds,
    cpuSeconds,
  };
}
