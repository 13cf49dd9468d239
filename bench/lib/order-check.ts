/**
 * The benchmark's consumer: counts messages and payload bytes and checks, for every message,
 * that each table's changes arrive in increasing (commit_lsn, commit_idx) order — the
 * contract's per-table commit order. It never parses the JSON: it finds the last
 * `"commit_lsn":` in the raw bytes (metadata comes after the record, and the bench's rows
 * hold no such text) and reads the two integers that follow.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { performance } from 'node:perf_hooks';

const LSN_KEY = Buffer.from('"commit_lsn":');
const IDX_KEY = Buffer.from(',"commit_idx":');

interface TableState {
  table: string;
  lastLsn: number;
  lastIdx: number;
  count: number;
}

interface SubjectState {
  table: TableState;
  action: string;
  count: number;
}

export interface OrderViolation {
  table: string;
  previous: string;
  got: string;
  subject: string;
  /** Index of the message in arrival order. */
  at: number;
}

export interface CheckerResult {
  received: number;
  payloadBytes: number;
  /** received[table][action] */
  counts: Record<string, Record<string, number>>;
  violations: number;
  violationSamples: OrderViolation[];
  unparsable: number;
  maxCommitLsn: number;
}

/** Reads a non-negative decimal integer at `pos`; returns [value, end]. */
function readInt(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let i = pos;
  for (; i < buf.length; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
  }
  return [i === pos ? NaN : value, i];
}

export class OrderChecker {
  received = 0;
  payloadBytes = 0;
  /** performance.now() of the first message and of the `target`-th one. */
  firstAt: number | undefined;
  doneAt: number | undefined;
  /** performance.now() of the message that makes a quarter of `target`: the rate from there on is the warm rate. */
  quarterAt: number | undefined;
  readonly quarter: number;
  private violations = 0;
  private readonly violationSamples: OrderViolation[] = [];
  private unparsable = 0;
  private maxCommitLsn = 0;
  private readonly subjects = new Map<string, SubjectState>();
  private readonly tables = new Map<string, TableState>();
  private sub: Subscription | undefined;
  private subscriptionError: Error | undefined;
  private readonly doneWaiters: Array<() => void> = [];
  /** Real messages kept for the NATS ceiling's publisher (every `sampleEvery`-th, up to `sampleLimit`). */
  readonly samples: Array<{ subject: string; data: Uint8Array }> = [];
  sampleLimit = 0;
  sampleEvery = 1;

  /** `prefix` is the subject up to the table token, e.g. `sequin.changes.bench.public.`. */
  constructor(
    private readonly prefix: string,
    private readonly target: number,
  ) {
    this.quarter = Math.max(1, Math.floor(target / 4));
  }

  start(nc: NatsConnection, filter: string): void {
    this.sub = nc.subscribe(filter, {
      callback: (err, msg) => {
        if (err) {
          this.subscriptionError = err;
          return;
        }
        this.onMessage(msg);
      },
    });
  }

  get error(): Error | undefined {
    return this.subscriptionError;
  }

  /** Resolves when `target` messages have arrived. */
  done(): Promise<void> {
    if (this.received >= this.target) return Promise.resolve();
    return new Promise((resolve) => this.doneWaiters.push(resolve));
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  private onMessage(msg: Msg): void {
    const index = this.received++;
    if (index === 0) this.firstAt = performance.now();
    const data = msg.data;
    this.payloadBytes += data.length;
    if (this.samples.length < this.sampleLimit && index % this.sampleEvery === 0)
      this.samples.push({ subject: msg.subject, data: data.slice() });
    let state = this.subjects.get(msg.subject);
    if (!state) state = this.learnSubject(msg.subject);
    state.count++;
    const table = state.table;
    table.count++;

    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const at = buf.lastIndexOf(LSN_KEY);
    let lsn = NaN;
    let idx = NaN;
    if (at >= 0) {
      let end: number;
      [lsn, end] = readInt(buf, at + LSN_KEY.length);
      if (buf.compare(IDX_KEY, 0, IDX_KEY.length, end, end + IDX_KEY.length) === 0) {
        [idx] = readInt(buf, end + IDX_KEY.length);
      }
    }
    if (Number.isNaN(lsn) || Number.isNaN(idx)) {
      this.unparsable++;
    } else {
      if (lsn > this.maxCommitLsn) this.maxCommitLsn = lsn;
      if (lsn < table.lastLsn || (lsn === table.lastLsn && idx <= table.lastIdx)) {
        this.violations++;
        if (this.violationSamples.length < 10) {
          this.violationSamples.push({
            table: table.table,
            previous: `${table.lastLsn}/${table.lastIdx}`,
            got: `${lsn}/${idx}`,
            subject: msg.subject,
            at: index,
          });
        }
      }
      table.lastLsn = lsn;
      table.lastIdx = idx;
    }

    if (this.received === this.quarter) this.quarterAt = performance.now();
    if (this.received === this.target) {
      this.doneAt = performance.now();
      for (const resolve of this.doneWaiters.splice(0)) resolve();
    }
  }

  private learnSubject(subject: string): SubjectState {
    let rest = subject.startsWith(this.prefix) ? subject.slice(this.prefix.length) : subject;
    const dot = rest.lastIndexOf('.');
    const action = dot >= 0 ? rest.slice(dot + 1) : '?';
    rest = dot >= 0 ? rest.slice(0, dot) : rest;
    let table = this.tables.get(rest);
    if (!table) {
      table = { table: rest, lastLsn: -1, lastIdx: -1, count: 0 };
      this.tables.set(rest, table);
    }
    const state = { table, action, count: 0 };
    this.subjects.set(subject, state);
    return state;
  }

  result(): CheckerResult {
    const counts: Record<string, Record<string, number>> = {};
    for (const s of this.subjects.values()) {
      const t = (counts[s.table.table] ??= {});
      t[s.action] = (t[s.action] ?? 0) + s.count;
    }
    return {
      received: this.received,
      payloadBytes: this.payloadBytes,
      counts,
      violations: this.violations,
      violationSamples: [...this.violationSamples],
      unparsable: this.unparsable,
      maxCommitLsn: this.maxCommitLsn,
    };
  }
}
