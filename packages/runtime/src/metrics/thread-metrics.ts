/**
 * Every thread keeps its own prom-client Registry; the main thread gathers them all into one
 * /metrics with AggregatorRegistry.aggregate (counters and buckets sum; each table's series
 * lives in one shard only, so gauges sum to the right value too).
 *
 * Process metrics (CPU, RSS) are collected once, on the main thread: collected in every worker
 * they would be summed (docs/pitfalls.md measured 371 MB shown for a 92 MB process). Per thread we
 * export, labelled with the thread: CPU time, event-loop lag and utilisation, and V8 heap.
 *
 * The event-loop delay monitor runs only while its thread is busy (`BUSY_UTILISATION`): it
 * wakes its thread every 10 ms, and on the 2-vCPU VMs we measure on a wake-up of a Node thread
 * costs 50-150 µs of CPU, so the monitors of the 4 threads were ~2 % of a core of an idle
 * wal2nats, most of what it used when the database was quiet (docs/benchmarks.md, `oltp`). A
 * thread that is idle has no delay worth measuring; it reports 0.
 *
 * Per-thread CPU: Node 20 has no per-thread CPU clock (`process.threadCpuUsage` came in Node
 * 23; `process.cpuUsage()` in a worker is the whole process). On Linux each thread reads its own
 * line of /proc: `/proc/thread-self` resolves to `<pid>/task/<tid>` for the thread that opens it,
 * and fs *Sync calls run on the calling JS thread, so a thread learns its OS thread id once and
 * then reads `/proc/self/task/<tid>/stat` (utime + stime, in clock ticks). That is the JS
 * thread's own time: libuv's pool and V8's GC helper threads are shared by the process and are
 * only in `process_cpu_seconds_total`. Elsewhere the metric is left out.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/**
 * Gauges that summarise a period (event-loop lag p99, utilisation) report the last window of at
 * least this long, so that frequent readers (the console, `wal2nats status`) and Prometheus do
 * not reset each other's view to a few milliseconds.
 */
const WINDOW_MS = 5_000;

/** Linux's USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux ABI. */
const CLOCK_TICKS_PER_SECOND = 100;

/** The delay monitor runs while the thread's event loop was busy at least this share of the last check interval. */
const BUSY_UTILISATION = 0.1;
const BUSY_CHECK_MS = 1_000;

export function createThreadRegistry(thread: string): Registry {
  const registry = new Registry();
  const registers = [registry];
  const labels = { thread };

  // The histogram records each whole timer interval, so an idle loop reads as `resolution`:
  // that floor is taken off, leaving the delay beyond it.
  const resolutionMs = 10;
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  delay.enable();
  let monitoring = true;
  let busyMark: EventLoopUtilization = performance.eventLoopUtilization();
  // unref: it must not keep a thread alive.
  setInterval(() => {
    const next = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(next, busyMark).utilization >= BUSY_UTILISATION;
    busyMark = next;
    if (busy !== monitoring) {
      if (busy) delay.enable();
      else delay.disable();
      monitoring = busy;
    }
  }, BUSY_CHECK_MS).unref();
  let lagWindowStart = performance.now();
  let lagP99 = 0;
  new Gauge({
    name: 'wal2nats_event_loop_lag_seconds',
    help: 'Event-loop delay of a thread: p99 over the last window of at least 5 s (0 while the thread is mostly idle).',
    labelNames: ['thread'],
    registers,
    collect() {
      const now = performance.now();
      if (now - lagWindowStart >= WINDOW_MS || lagP99 === 0) {
        // No sample in the window: the monitor was off, the thread idle.
        lagP99 = delay.count > 0 ? Math.max(0, delay.percentile(99) / 1e6 - resolutionMs) / 1000 : 0;
        delay.reset();
        lagWindowStart = now;
      }
      this.set(labels, lagP99);
    },
  });

  let eluMark: EventLoopUtilization = performance.eventLoopUtilization();
  let eluWindowStart = performance.now();
  let utilisation = 0;
  new Gauge({
    name: 'wal2nats_event_loop_utilization',
    help: "Share of time (0..1) a thread's event loop was busy, over the last window of at least 5 s.",
    labelNames: ['thread'],
    registers,
    collect() {
      const now = performance.now();
      if (now - eluWindowStart >= WINDOW_MS) {
        const next = performance.eventLoopUtilization();
        utilisation = performance.eventLoopUtilization(next, eluMark).utilization;
        eluMark = next;
        eluWindowStart = now;
      }
      this.set(labels, utilisation);
    },
  });

  new Gauge({
    name: 'wal2nats_thread_heap_used_bytes',
    help: 'V8 heap in use by a thread.',
    labelNames: ['thread'],
    registers,
    collect() {
      this.set(labels, getHeapStatistics().used_heap_size);
    },
  });

  const cpu = threadCpuReader();
  if (cpu) {
    let reported = 0;
    new Counter({
      name: 'wal2nats_thread_cpu_seconds_total',
      help: "CPU time (user + system) of a thread's own JS thread (Linux: /proc/self/task/<tid>/stat).",
      labelNames: ['thread'],
      registers,
      collect() {
        const seconds = cpu();
        if (seconds !== undefined && seconds > reported) {
          this.inc(labels, seconds - reported);
          reported = seconds;
        } else if (reported === 0) {
          this.inc(labels, 0); // the series exists from the first scrape
        }
      },
    });
  }
  return registry;
}

/**
 * A function that returns the CPU seconds of the calling thread, or null where this cannot be
 * known. Must be created on the thread it measures.
 */
export function threadCpuReader(): (() => number | undefined) | null {
  const perThread = (process as unknown as { threadCpuUsage?: () => { user: number; system: number } })
    .threadCpuUsage;
  if (typeof perThread === 'function') {
    return () => {
      const usage = perThread.call(process);
      return (usage.user + usage.system) / 1e6;
    };
  }
  let statPath: string;
  try {
    // e.g. "4242/task/4250": the thread that resolves the link is the one we are on.
    statPath = `/proc/${readlinkSync('/proc/thread-self')}/stat`;
    readProcStatCpu(statPath);
  } catch {
    return null;
  }
  return () => {
    try {
      return readProcStatCpu(statPath);
    } catch {
      return undefined;
    }
  };
}

function readProcStatCpu(path: string): number {
  const text = readFileSync(path, 'utf8');
  // "tid (comm) S ppid …": comm may hold spaces and parentheses, so cut at the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Counting from the state (field 3 of stat), utime and stime (fields 14 and 15) are at 11, 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new Error(`unexpected ${path}`);
  return ticks / CLOCK_TICKS_PER_SECOND;
}

export async function registryJson(registry: Registry): Promise<MetricsJson> {
  return (await registry.getMetricsAsJSON()) as MetricsJson;
}
