/**
 * The baseline: the simplest pipeline anyone would write first, on ONE thread —
 * pg-logical-replication's own PgoutputPlugin (parses every message into objects) →
 * JSON.stringify of a {record, changes, action, metadata} body → `nc.publish` on the same
 * subjects as wal2nats, with a flush and an acknowledgement of the last published commit every
 * 100 ms. No backpressure, no batching, no worker threads. The `baseline` scenario measures it
 * on the same WAL as wal2nats, so the actor design has to prove its worth against it.
 *
 * This file is both the child process (run as a script: `node --import tsx baseline-pipeline.ts
 * '<json options>'`) and the parent's launcher (`startBaseline`), so that the pipeline gets a
 * process of its own, like wal2nats, and its CPU and memory can be read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import type { Pgoutput } from 'pg-logical-replication';
import { onProcessExit } from '../../test/harness/cleanup.js';

export interface BaselineOptions {
  postgresUrl: string;
  database: string;
  slot: string;
  publication: string;
  natsUrl: string;
}

const SELF = fileURLToPath(import.meta.url);
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** "16/B374D848" → 0x16B374D848 as a number (exact below 2^53). */
function lsnToNumber(lsn: string | null): number {
  if (!lsn) return 0;
  const [hi, lo] = lsn.split('/');
  return parseInt(hi!, 16) * 2 ** 32 + parseInt(lo!, 16);
}

/** Microseconds since the Unix epoch as ISO 8601 with microseconds. */
function microsToIso(micros: bigint): string {
  const ms = Number(micros / 1000n);
  return `${new Date(ms).toISOString().slice(0, 23)}${String(Number(micros % 1000n)).padStart(3, '0')}Z`;
}

async function pipeline(options: BaselineOptions): Promise<void> {
  const nc = await connect({ servers: options.natsUrl });
  const url = new URL(options.postgresUrl);
  const service = new LogicalReplicationService(
    {
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      database: options.database,
    },
    { acknowledge: { auto: false, timeoutSeconds: 0 } },
  );
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [options.publication] });
  const prefix = `sequin.changes.${options.database}`;
  let commitLsn = 0;
  let commitTimestamp = '';
  let commitIdx = 0;
  let lastCommitEnd: string | null = null;
  let acked: string | null = null;

  service.on('data', (_lsn: string, log: Pgoutput.Message) => {
    switch (log.tag) {
      case 'begin':
        commitLsn = lsnToNumber(log.commitLsn);
        commitTimestamp = microsToIso(log.commitTime as bigint);
        commitIdx = 0;
        return;
      case 'commit':
        lastCommitEnd = log.commitEndLsn;
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        const relation = log.relation;
        const record = log.tag === 'delete' ? (log.old ?? log.key) : log.new;
        const changes = log.tag === 'update' ? log.old : null;
        const body = JSON.stringify({
          record,
          changes,
          action: log.tag,
          metadata: {
            table_schema: relation.schema,
            table_name: relation.name,
            commit_timestamp: commitTimestamp,
            commit_lsn: commitLsn,
            commit_idx: commitIdx++,
            database_name: options.database,
          },
        });
        nc.publish(`${prefix}.${relation.schema}.${relation.name}.${log.tag}`, body);
        return;
      }
      default:
        return;
    }
  });

  // Every 100 ms: once NATS has everything published so far, confirm the last commit seen before the flush.
  let flushing = false;
  const ticker = setInterval(() => {
    if (flushing || lastCommitEnd === acked) return;
    flushing = true;
    const upTo = lastCommitEnd;
    nc.flush()
      .then(() => (upTo ? service.acknowledge(upTo) : false))
      .then(
        () => {
          acked = upTo;
          flushing = false;
        },
        () => {
          flushing = false;
        },
      );
  }, 100);

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    clearInterval(ticker);
    await nc.flush().catch(() => {});
    if (lastCommitEnd) await service.acknowledge(lastCommitEnd).catch(() => {});
    await service.stop().catch(() => {});
    await nc.close().catch(() => {});
    process.exit(code);
  };
  process.once('SIGTERM', () => void stop(0));
  service.on('start', () => {
    process.stdout.write(JSON.stringify({ msg: 'streaming' }) + '\n');
  });
  service.on('error', (err: Error) => {
    process.stderr.write(`baseline: replication failed: ${err.message}\n`);
    void stop(1);
  });
  await service.subscribe(plugin, options.slot);
}

/** The baseline as a child process of the bench. */
export class BaselineChild {
  readonly pid: number;
  readonly startedAt = performance.now();
  /** performance.now() of its "streaming" line. */
  readonly streaming: Promise<number>;
  readonly exited: Promise<number | null>;
  running = true;
  private stderr = '';
  private readonly child: ChildProcess;

  constructor(options: BaselineOptions) {
    this.child = spawn(process.execPath, ['--import', 'tsx', SELF, JSON.stringify(options)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error('could not spawn the baseline pipeline');
    this.pid = this.child.pid;
    const child = this.child;
    const removeHook = onProcessExit(() => {
      child.kill('SIGKILL');
    });
    this.child
      .stderr!.setEncoding('utf8')
      .on('data', (c: string) => (this.stderr = (this.stderr + c).slice(-4000)));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        removeHook();
        this.running = false;
        resolve(code);
      }),
    );
    this.streaming = new Promise((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (c: string) => {
        if (c.includes('"streaming"')) resolve(performance.now());
      });
      void this.exited.then((code) =>
        reject(new Error(`the baseline exited (${code}) before streaming: ${this.stderr}`)),
      );
    });
    this.streaming.catch(() => {});
  }

  get log(): string {
    return this.stderr;
  }

  /** SIGTERM, SIGKILL after `timeoutMs`; resolves with the exit code and whether it had to be killed. */
  async stop(timeoutMs = 15_000): Promise<{ code: number | null; killed: boolean }> {
    if (!this.running) return { code: await this.exited, killed: false };
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      this.exited,
      new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (first !== 'timeout') return { code: first, killed: false };
    this.child.kill('SIGKILL');
    return { code: await this.exited, killed: true };
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  pipeline(JSON.parse(process.argv[2]!) as BaselineOptions).catch((err: unknown) => {
    process.stderr.write(`baseline: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
