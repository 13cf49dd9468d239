/**
 * The NATS ceiling: one Node process publishing pre-serialised messages — real wal2nats bodies
 * on their real subjects, sampled from the drain — as fast as it can (core NATS, a flush every
 * 10,000 messages so the client's buffer stays bounded), counted on arrival at the bench's
 * subscriber like the drain. What one Node process can push through nats-server on this
 * machine with no Postgres and no encoding: the most wal2nats could ever deliver.
 *
 * Both the child (run as a script with a samples file) and the parent's `runNatsCeiling`.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { onProcessExit } from '../../test/harness/cleanup.js';
import { cpuSeconds, memoryStatus } from './proc-stats.js';
import { MiB } from './report.js';

const SELF = fileURLToPath(import.meta.url);
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHUNK = 10_000;

interface ChildOptions {
  natsUrl: string;
  samplesFile: string;
  count: number;
}

async function publisher(options: ChildOptions): Promise<void> {
  const samples = (JSON.parse(readFileSync(options.samplesFile, 'utf8')) as Array<[string, string]>).map(
    ([s, d]) => ({ subject: s, data: Buffer.from(d, 'base64') }),
  );
  const nc = await connect({ servers: options.natsUrl });
  process.stdout.write('{"msg":"publishing"}\n');
  let i = 0;
  while (i < options.count) {
    const end = Math.min(options.count, i + CHUNK);
    for (; i < end; i++) {
      const m = samples[i % samples.length]!;
      nc.publish(m.subject, m.data);
    }
    await nc.flush();
  }
  await nc.drain();
  process.exit(0);
}

export interface NatsCeilingResult {
  ok: boolean;
  failures: string[];
  messages: number;
  avgBytes: number;
  seconds: number;
  changesPerSecond: number;
  mbPerSecond: number;
  publisherCpuSeconds: number | null;
  publisherPeakRssMiB: number | null;
}

/** Spawns the publisher and counts its `count` messages at a subscriber on `filter`. */
export async function runNatsCeiling(options: {
  natsUrl: string;
  nc: NatsConnection;
  filter: string;
  samples: ReadonlyArray<{ subject: string; data: Uint8Array }>;
  count: number;
  timeoutMs?: number;
}): Promise<NatsCeilingResult> {
  const failures: string[] = [];
  if (options.samples.length === 0) throw new Error('the NATS ceiling needs sample messages from the drain');
  const samplesFile = join(tmpdir(), `wal2nats-bench-samples-${process.pid}.json`);
  writeFileSync(
    samplesFile,
    JSON.stringify(options.samples.map((s) => [s.subject, Buffer.from(s.data).toString('base64')])),
  );
  const avgBytes = options.samples.reduce((n, s) => n + s.data.length, 0) / options.samples.length;
  let received = 0;
  let bytes = 0;
  let doneAt = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => (done = resolve));
  const sub = options.nc.subscribe(options.filter, {
    callback: (_err, msg) => {
      received++;
      bytes += msg.data.length;
      if (received === options.count) {
        doneAt = performance.now();
        done();
      }
    },
  });
  await options.nc.flush();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      SELF,
      JSON.stringify({ natsUrl: options.natsUrl, samplesFile, count: options.count } satisfies ChildOptions),
    ],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const removeHook = onProcessExit(() => {
    child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-2000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = new Promise<number>((resolve) =>
    child
      .stdout!.setEncoding('utf8')
      .on('data', (c: string) => c.includes('publishing') && resolve(performance.now())),
  );
  let cpu: number | null = null;
  let peak = 0;
  const poll = setInterval(() => {
    if (!child.pid) return;
    cpu = cpuSeconds(child.pid) ?? cpu;
    const m = memoryStatus(child.pid);
    if (m) peak = Math.max(peak, m.hwm);
  }, 100);
  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = options.timeoutMs ?? 300_000;
  const outcome = await Promise.race([
    all.then(() => 'done' as const),
    exited.then(async (code) => {
      // It exits once everything is flushed: give the last messages a moment to reach us.
      if (code !== 0) return 'exit' as const;
      await Promise.race([all, new Promise((r) => setTimeout(r, 5_000))]);
      return received >= options.count ? ('done' as const) : ('exit' as const);
    }),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
  ]);
  clearTimeout(timer);
  clearInterval(poll);
  const startedAt = await Promise.race([started, Promise.resolve(NaN)]);
  if (outcome !== 'done')
    failures.push(
      `the raw publisher delivered ${received} of ${options.count} messages (${outcome}): ${stderr.trim()}`,
    );
  await exited.catch(() => {});
  if (child.exitCode === null) child.kill('SIGKILL');
  removeHook();
  sub.unsubscribe();
  rmSync(samplesFile, { force: true });
  const seconds = (doneAt - startedAt) / 1000;
  return {
    ok: failures.length === 0,
    failures,
    messages: options.count,
    avgBytes,
    seconds,
    changesPerSecond: options.count / seconds,
    mbPerSecond: bytes / 1e6 / seconds,
    publisherCpuSeconds: cpu,
    publisherPeakRssMiB: peak ? peak / MiB : null,
  };
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  publisher(JSON.parse(process.argv[2]!) as ChildOptions).catch((err: unknown) => {
    process.stderr.write(`raw publisher: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
