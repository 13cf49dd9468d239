/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof --cpu-prof-dir=DIR`, one file per
 * thread: the main thread and each worker) by self time.
 *
 *   node --import tsx bench/profile-summary.ts DIR_OR_FILES... [--top N] [--by function|file|package]
 *                                              [--callers NAME]
 *
 * For each profile: the thread (guessed from the scripts it ran: reader-thread, shard-worker or
 * main), sampled wall time, idle / GC / program time, and the top functions by self time
 * (function name + file:line), with their share of the thread's busy (non-idle) time.
 * `--callers NAME` also lists, per thread, the call paths (up to 4 frames) that spent self time
 * in functions named NAME, e.g. `--callers write` to see who encodes strings into buffers.
 * `pnpm bench --profile DIR` runs wal2nats under --cpu-prof and writes there.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/** A short, readable location: path inside the repo, or package/file inside node_modules. */
function shortUrl(url: string): string {
  if (!url) return '';
  let path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    path = path.slice(nm + '/node_modules/'.length);
    // .pnpm/<pkg>@<ver>/node_modules/<pkg>/... -> <pkg>/...
    const inner = path.lastIndexOf('node_modules/');
    if (inner >= 0) path = path.slice(inner + 'node_modules/'.length);
    return path;
  }
  if (path.startsWith(repoRoot)) return relative(repoRoot, path);
  return path;
}

function packageOf(url: string): string {
  const short = shortUrl(url);
  if (!short) return '(native/V8)';
  if (short.startsWith('node:')) return 'node (core)';
  const parts = short.split('/');
  if (parts[0] === 'packages') return `@wal2nats/${parts[1]}`;
  if (parts[0]!.startsWith('@')) return `${parts[0]}/${parts[1]}`;
  return parts[0]!;
}

function threadKind(profile: CpuProfile): string {
  const urls = new Set(profile.nodes.map((n) => n.callFrame.url));
  const has = (part: string) => [...urls].some((u) => u.includes(part));
  if (has('reader-thread')) return 'reader thread';
  if (has('shard-worker')) return 'shard worker';
  if (has('cli/dist/main')) return 'main thread';
  return 'thread';
}

export interface Row {
  key: string;
  selfMs: number;
}

export interface CallerRow {
  path: string;
  selfMs: number;
}

export interface ProfileSummary {
  file: string;
  thread: string;
  wallMs: number;
  idleMs: number;
  gcMs: number;
  programMs: number;
  busyMs: number;
  top: Row[];
  /** Call paths into the `callers` function, by self time. */
  callers: CallerRow[];
  callersMs: number;
}

function frameLabel(frame: CallFrame): string {
  return `${frame.functionName || '(anonymous)'}${frame.url ? ` ${shortUrl(frame.url)}:${frame.lineNumber + 1}` : ''}`;
}

export function summarise(
  file: string,
  by: 'function' | 'file' | 'package',
  top: number,
  callersOf?: string,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const self = new Map<number, number>();
  // timeDeltas[i] is the time between sample i-1 and sample i: charge the interval after a
  // sample to that sample's node (as Chrome DevTools does); the last one runs to endTime.
  let t = profile.startTime;
  const stamps = deltas.map((d) => (t += d));
  for (let i = 0; i < samples.length; i++) {
    const next = i + 1 < stamps.length ? stamps[i + 1]! : profile.endTime;
    const us = Math.max(0, next - stamps[i]!);
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + us);
  }
  const rows = new Map<string, number>();
  const callerRows = new Map<string, number>();
  let callersTotal = 0;
  let idle = 0;
  let gc = 0;
  let program = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') idle += us;
    else if (frame.functionName === '(garbage collector)') gc += us;
    else if (frame.functionName === '(program)') program += us;
    let key: string;
    if (by === 'package') key = frame.url ? packageOf(frame.url) : frame.functionName;
    else if (by === 'file') key = frame.url ? shortUrl(frame.url) : frame.functionName;
    else key = frameLabel(frame);
    rows.set(key, (rows.get(key) ?? 0) + us);
    if (callersOf !== undefined && frame.functionName === callersOf) {
      const path: string[] = [];
      for (let p = parent.get(id); p !== undefined && path.length < 4; p = parent.get(p)) {
        const f = byId.get(p)!.callFrame;
        if (f.functionName === '(root)') break;
        path.push(frameLabel(f));
      }
      const key2 = path.join(' < ') || '(root)';
      callerRows.set(key2, (callerRows.get(key2) ?? 0) + us);
      callersTotal += us;
    }
  }
  const wall = profile.endTime - profile.startTime;
  const sorted = [...rows.entries()]
    .filter(([key]) => key !== '(idle)')
    .map(([key, us]) => ({ key, selfMs: us / 1000 }))
    .sort((a, b) => b.selfMs - a.selfMs);
  return {
    file,
    thread: threadKind(profile),
    wallMs: wall / 1000,
    idleMs: idle / 1000,
    gcMs: gc / 1000,
    programMs: program / 1000,
    busyMs: (wall - idle) / 1000,
    top: sorted.slice(0, top),
    callers: [...callerRows.entries()]
      .map(([path, us]) => ({ path, selfMs: us / 1000 }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top),
    callersMs: callersTotal / 1000,
  };
}

function collectFiles(paths: string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) if (f.endsWith('.cpuprofile')) files.push(join(p, f));
    } else {
      files.push(p);
    }
  }
  return files;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '15' },
      by: { type: 'string', default: 'function' },
      callers: { type: 'string' },
    },
  });
  const by = values.by as 'function' | 'file' | 'package';
  if (!['function', 'file', 'package'].includes(by))
    throw new Error('--by must be function, file or package');
  const files = collectFiles(positionals.length > 0 ? positionals : ['/tmp/prof']);
  if (files.length === 0) throw new Error('no .cpuprofile files found');
  const f1 = (n: number) => n.toFixed(1);
  for (const file of files) {
    const s = summarise(file, by, Number(values.top), values.callers);
    console.log(`\n== ${s.thread} — ${basename(file)}`);
    console.log(
      `   wall ${f1(s.wallMs)} ms, busy ${f1(s.busyMs)} ms (${f1((s.busyMs / s.wallMs) * 100)} %), ` +
        `GC ${f1(s.gcMs)} ms, (program) ${f1(s.programMs)} ms`,
    );
    console.log(`   ${'self ms'.padStart(9)} ${'% busy'.padStart(7)}  ${by}`);
    for (const r of s.top) {
      console.log(`   ${f1(r.selfMs).padStart(9)} ${f1((r.selfMs / s.busyMs) * 100).padStart(7)}  ${r.key}`);
    }
    if (values.callers !== undefined && s.callersMs > 0) {
      console.log(`   callers of ${values.callers} (${f1(s.callersMs)} ms self in all):`);
      for (const c of s.callers)
        console.log(
          `   ${f1(c.selfMs).padStart(9)} ${f1((c.selfMs / s.callersMs) * 100).padStart(7)}  ${c.path}`,
        );
    }
  }
}

main();
