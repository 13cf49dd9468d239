/**
 * The `steady` scenario's latency probe: a NATS subscriber in a process of its own, so that
 * the arrival time it stamps on each change is not delayed by the bench's rate-controlled
 * writer (in one process, the writer's event loop made arrivals look tens of ms later than
 * they were). It stamps every arrival with `performance.timeOrigin + performance.now()`, reads
 * `metadata.commit_timestamp` from the raw body, and keeps the statistics of the current phase.
 *
 * The parent drives it over the IPC channel, one request at a time:
 * - `start`: a new phase begins; answered once it has reset, so that (the parent starting its
 *   writer only then) no change of the new phase can arrive before the reset.
 * - `end {target, writerEndAt, stallMs}`: the writer has stopped at `writerEndAt` (epoch ms)
 *   with `target` changes written in all; answered once `target` changes have arrived in all,
 *   or none arrived for `stallMs`, with the phase's statistics.
 * - `count`: answered with the number of messages received so far.
 * Between requests it reports its running count every 200 ms (`progress`), for progress lines.
 *
 * Both the child (run as a script: `node --import tsx latency-subscriber.ts '<json options>'`)
 * and the parent's launcher (`LatencySubscriber`), like baseline-pipeline.ts.
 * The phase bookkeeping (`phaseRecorder`, child side) and the launcher (`PhaseProbeProcess`,
 * parent side) are shared with lib/postgres-latency-probe.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { onProcessExit } from '../../test/harness/cleanup.js';

const SELF = fileURLToPath(import.meta.url);
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TS_KEY = Buffer.from('"commit_timestamp":"');

interface ChildOptions {
  natsUrl: string;
  subject: string;
}

const LOOP_RESOLUTION_MS = 10;

/** An event-loop delay monitor, enabled; read it with `loopDelayMs`. */
export function monitorLoop(): IntervalHistogram {
  const h = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  h.enable();
  return h;
}

/**
 * How late the loop ran, in ms. The histogram records the time between two ticks of its
 * 10 ms timer (an idle loop shows ~10 ms), so the timer's own interval is taken off.
 */
export function loopDelayMs(h: IntervalHistogram): { p99: number; max: number } {
  const late = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
  return { p99: late(h.percentile(99)), max: late(h.max) };
}

type Request =
  { cmd: 'start' } | { cmd: 'count' } | { cmd: 'end'; target: number; writerEndAt: number; stallMs: number };

/** One phase as the subscriber saw it (times are epoch ms, latencies ms). */
export interface PhaseArrivals {
  /** Messages that arrived during the phase (from `start` to the answer to `end`). */
  arrivals: number;
  /** Of those, the ones that arrived by `writerEndAt`. */
  arrivedByWriterEnd: number;
  /** Whether `target` was reached; if so, when (the arrival that reached it). */
  drained: boolean;
  drainedAt: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  perSecond: Array<[second: number, arrivals: number, maxLatencyMs: number]>;
  /** This process's own event-loop delay over the phase: how late its arrival stamps may be. */
  loopDelayMs: { p99: number; max: number };
}

type Reply =
  | { msg: 'ready' | 'started' | 'progress' | 'count'; received: number; unparsable: number }
  | ({ msg: 'ended'; received: number; unparsable: number } & PhaseArrivals);

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * The child side shared by the phase probes (this subscriber, lib/postgres-latency-probe.ts):
 * keeps the current phase's statistics and answers the parent's requests. `arrive(now, latency)`
 * records one change (epoch ms, ms; NaN latency = a change without a usable commit time);
 * `ready()` tells the parent that the probe is listening.
 */
export function phaseRecorder(): { arrive: (now: number, latency: number) => void; ready: () => void } {
  const send = (reply: Reply) => process.send!(reply);
  let received = 0;
  let unparsable = 0;
  // The current phase: latency and arrival time of each message (arrival times only grow).
  let latencies = new Float64Array(1 << 20);
  let arrivedAt = new Float64Array(1 << 20);
  let n = 0;
  let arrivals = 0;
  let phaseStart = performance.timeOrigin + performance.now();
  let perSecond: Array<[number, number, number]> = [];
  let lastArrival = phaseStart;
  let pending: { target: number; writerEndAt: number; stallMs: number; since: number } | undefined;
  const loopDelay = monitorLoop();

  const finish = (drained: boolean) => {
    const p = pending!;
    pending = undefined;
    const sorted = latencies.slice(0, n).sort();
    let byEnd = n;
    while (byEnd > 0 && arrivedAt[byEnd - 1]! > p.writerEndAt) byEnd--;
    // Unparsable messages have no stamp in arrivedAt: count them as arrived by the end.
    const arrivedByWriterEnd = byEnd + (arrivals - n);
    send({
      msg: 'ended',
      received,
      unparsable,
      arrivals,
      arrivedByWriterEnd,
      drained,
      drainedAt: drained ? lastArrival : NaN,
      latencyMs: {
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        max: sorted[sorted.length - 1] ?? NaN,
      },
      perSecond: Array.from(perSecond, (b, i) => b ?? [i, 0, 0]).map(([sec, count, max]) => [
        sec,
        count,
        Math.round(max * 10) / 10,
      ]),
      loopDelayMs: loopDelayMs(loopDelay),
    });
  };

  const arrive = (now: number, latency: number) => {
    received++;
    arrivals++;
    lastArrival = now;
    if (Number.isNaN(latency)) unparsable++;
    else {
      if (n === latencies.length) {
        const grow = (a: Float64Array) => {
          const bigger = new Float64Array(a.length * 2);
          bigger.set(a);
          return bigger;
        };
        latencies = grow(latencies);
        arrivedAt = grow(arrivedAt);
      }
      latencies[n] = latency;
      arrivedAt[n++] = now;
      const second = Math.floor((now - phaseStart) / 1000);
      const bucket = (perSecond[second] ??= [second, 0, 0]);
      bucket[1]++;
      if (latency > bucket[2]) bucket[2] = latency;
    }
    if (pending && received >= pending.target) finish(true);
  };

  const ready = () => {
    process.on('message', (req: Request) => {
      switch (req.cmd) {
        case 'start':
          n = 0;
          arrivals = 0;
          perSecond = [];
          phaseStart = performance.timeOrigin + performance.now();
          loopDelay.reset();
          send({ msg: 'started', received, unparsable });
          return;
        case 'count':
          send({ msg: 'count', received, unparsable });
          return;
        case 'end':
          pending = { ...req, since: performance.timeOrigin + performance.now() };
          if (received >= req.target) finish(true);
          return;
      }
    });
    let reported = -1;
    setInterval(() => {
      const now = performance.timeOrigin + performance.now();
      // A stall: nothing arrived for stallMs since the writer stopped (or since the last arrival).
      if (pending && now - Math.max(pending.since, lastArrival) > pending.stallMs) finish(false);
      else if (!pending && received !== reported) {
        reported = received;
        send({ msg: 'progress', received, unparsable });
      }
    }, 200);
    // The parent went away (or is done with us): nothing more to report to.
    process.on('disconnect', () => process.exit(0));
    send({ msg: 'ready', received, unparsable });
  };
  return { arrive, ready };
}

async function subscriber(options: ChildOptions): Promise<void> {
  let lastIso = '';
  let lastMs = NaN;
  /** Unix ms (fractional) of `"commit_timestamp":"2026-11-28T22:51:01.123456Z"` in a raw body. */
  const commitTimeMs = (buf: Buffer): number => {
    const at = buf.indexOf(TS_KEY);
    if (at < 0) return NaN;
    const iso = buf.toString('latin1', at + TS_KEY.length, at + TS_KEY.length + 27);
    // A transaction's changes share their commit time: parse it once (keeps the subscriber light).
    if (iso !== lastIso) {
      lastIso = iso;
      lastMs = Date.parse(`${iso.slice(0, 23)}Z`) + Number(iso.slice(23, 26)) / 1000;
    }
    return lastMs;
  };
  const recorder = phaseRecorder();

  const nc = await connect({ servers: options.natsUrl });
  nc.subscribe(options.subject, {
    callback: (_err, msg) => {
      const now = performance.timeOrigin + performance.now();
      const d = msg.data;
      recorder.arrive(now, now - commitTimeMs(Buffer.from(d.buffer, d.byteOffset, d.byteLength)));
    },
  });
  await nc.flush();
  recorder.ready();
}

/**
 * The parent side shared by the phase probes: spawns `script` (run with tsx, `options` as JSON
 * in argv[2]) as a child process with an IPC channel, one request at a time.
 */
export class PhaseProbeProcess {
  /** Messages received so far (as of its latest report). */
  received = 0;
  unparsable = 0;
  private stderr = '';
  /** Set once it has exited: every request fails from then on. */
  private gone: Error | undefined;
  private waiting: { msg: Reply['msg']; resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined;
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  protected readonly ready: Promise<Reply>;

  protected constructor(
    script: string,
    options: unknown,
    private readonly label: string,
  ) {
    const child = (this.child = spawn(
      process.execPath,
      ['--import', 'tsx', script, JSON.stringify(options)],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      },
    ));
    const removeHook = onProcessExit(() => {
      child.kill('SIGKILL');
    });
    child
      .stderr!.setEncoding('utf8')
      .on('data', (c: string) => (this.stderr = (this.stderr + c).slice(-4000)));
    child.on('message', (reply: Reply) => {
      this.received = reply.received;
      this.unparsable = reply.unparsable;
      if (this.waiting?.msg === reply.msg) {
        const w = this.waiting;
        this.waiting = undefined;
        w.resolve(reply);
      }
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        removeHook();
        this.gone = new Error(`the ${this.label} exited (${code}): ${this.stderr.trim()}`);
        const w = this.waiting;
        this.waiting = undefined;
        w?.reject(this.gone);
        resolve(code);
      }),
    );
    child.on('error', (err) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(err);
    });
    this.ready = this.expect('ready');
  }

  private expect(msg: Reply['msg'], req?: Request): Promise<Reply> {
    if (this.gone) return Promise.reject(this.gone);
    if (this.waiting)
      throw new Error(`${this.label}: '${msg}' requested while waiting for '${this.waiting.msg}'`);
    const reply = new Promise<Reply>((resolve, reject) => (this.waiting = { msg, resolve, reject }));
    if (req) this.child.send(req);
    return reply;
  }

  /** A new phase: resolves once the probe has reset its statistics. */
  async startPhase(): Promise<void> {
    await this.expect('started', { cmd: 'start' });
  }

  /** Resolves once `target` messages have arrived in all, or none for `stallMs`, with the phase's statistics. */
  async endPhase(target: number, writerEndAt: number, stallMs: number): Promise<PhaseArrivals> {
    return (await this.expect('ended', { cmd: 'end', target, writerEndAt, stallMs })) as PhaseArrivals;
  }

  /** The exact number of messages received so far. */
  async count(): Promise<number> {
    await this.expect('count', { cmd: 'count' });
    return this.received;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await this.exited;
  }
}

/** The subscriber as a child process of the bench; one request at a time. */
export class LatencySubscriber extends PhaseProbeProcess {
  private constructor(options: ChildOptions) {
    super(SELF, options, 'latency subscriber');
  }

  /** Spawns it and resolves once it is subscribed (and the server knows it). */
  static async start(natsUrl: string, subject: string): Promise<LatencySubscriber> {
    const s = new LatencySubscriber({ natsUrl, subject });
    await s.ready;
    return s;
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  subscriber(JSON.parse(process.argv[2]!) as ChildOptions).catch((err: unknown) => {
    process.stderr.write(`latency subscriber: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
