/**
 * Small readers of /proc for the benchmark: CPU time and memory of a process (and of its
 * threads), without any dependency. Linux only; every reader returns undefined when the
 * process is gone rather than throwing.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** Clock ticks per second of utime/stime (CLK_TCK; 100 on every Linux we run on). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

interface StatFields {
  comm: string;
  ppid: number;
  /** user + system CPU seconds. */
  cpuSeconds: number;
}

function readStat(path: string): StatFields | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so cut at the last ')'.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const fields = text.slice(close + 2).split(' ');
  // After the comm, field 0 is the state (field 3 of stat); utime and stime are fields 14, 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return { comm, ppid: Number(fields[1]), cpuSeconds: (utime + stime) / clockTicksPerSecond() };
}

/** user + system CPU seconds of a whole process (all its threads), or undefined when gone. */
export function cpuSeconds(pid: number): number | undefined {
  return readStat(`/proc/${pid}/stat`)?.cpuSeconds;
}

export interface ThreadCpu {
  tid: number;
  name: string;
  cpuSeconds: number;
}

/** CPU seconds of each thread of a process, most expensive first. */
export function threadCpu(pid: number): ThreadCpu[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const threads: ThreadCpu[] = [];
  for (const tid of tids) {
    const stat = readStat(`/proc/${pid}/task/${tid}/stat`);
    if (stat) threads.push({ tid: Number(tid), name: stat.comm, cpuSeconds: stat.cpuSeconds });
  }
  return threads.sort((a, b) => b.cpuSeconds - a.cpuSeconds);
}

export interface MemoryStatus {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size ("high water mark"), bytes. */
  hwm: number;
}

/** VmRSS and VmHWM from /proc/<pid>/status, or undefined when the process is gone. */
export function memoryStatus(pid: number): MemoryStatus | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (key: string) => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : 0;
  };
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/** The pid of a process whose command line contains `needle` (e.g. a unique config path). */
export function findPidByCmdline(needle: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) return pid;
    } catch {
      // Gone, or not ours to read.
    }
  }
  return undefined;
}

/** Every process's parent and CPU seconds so far, in one pass over /proc. */
export function processTable(): Map<number, { ppid: number; cpuSeconds: number }> {
  const table = new Map<number, { ppid: number; cpuSeconds: number }>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(`/proc/${entry}/stat`);
    if (stat) table.set(pid, { ppid: stat.ppid, cpuSeconds: stat.cpuSeconds });
  }
  return table;
}

/** `root` and every process below it in `table`. */
export function descendants(table: ReadonlyMap<number, { ppid: number }>, root: number): Set<number> {
  const found = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, { ppid }] of table) {
      if (!found.has(pid) && found.has(ppid)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  return found;
}

/** Machine facts for the report. */
export function machineInfo(): { nproc: number; cpuModel: string; memTotalGiB: number; kernel: string } {
  let cpuinfo = '';
  let meminfo = '';
  let kernel = '';
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    meminfo = readFileSync('/proc/meminfo', 'utf8');
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // Not Linux: the report says "unknown".
  }
  const nproc = (cpuinfo.match(/^processor\s*:/gm) ?? []).length;
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const memKiB = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0);
  return {
    nproc,
    cpuModel,
    memTotalGiB: Math.round((memKiB / 1024 / 1024) * 10) / 10,
    kernel: kernel || 'unknown',
  };
}

/** Busy CPU seconds of the whole machine so far (all CPUs: everything but idle and iowait). */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
    return busy / clockTicksPerSecond();
  } catch {
    return NaN;
  }
}

/** The 1-minute load average. */
export function loadAverage(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return NaN;
  }
}

/**
 * Context switches of all threads of a process so far: voluntary (a thread blocked: waited for
 * a message, a socket, a timer — each one a wake-up later) and involuntary (preempted). Read
 * from /proc/<pid>/task/<tid>/status; threads that ended are not counted.
 */
export function contextSwitches(pid: number): { voluntary: number; involuntary: number } | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let voluntary = 0;
  let involuntary = 0;
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue;
    }
    voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(text)?.[1] ?? 0);
  }
  return { voluntary, involuntary };
}
