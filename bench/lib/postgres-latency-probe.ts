/**
 * The `steady` scenario's Postgres-side latency probe: how late Postgres itself delivers a change
 * (walsender decoding and sending after the commit, and this machine's scheduling), so that the
 * subscriber's latency (lib/latency-subscriber.ts) can be split into Postgres's part and
 * wal2nats's. A bare reader of a second logical slot (pgoutput, the same publication) in a process
 * of its own — pg-logical-replication with the raw plugin of lib/raw-pgoutput.ts, like the bare
 * reader of lib/postgres-ceiling.ts. It takes the commit time from each Begin message ('B', Int64
 * final LSN, Int64 commit timestamp in µs since 2000-01-01, Int32 xid) and stamps every
 * insert/update/delete message with its receipt time (`performance.timeOrigin +
 * performance.now()`, the subscriber's clock): latency = receipt − commit time, on the same basis
 * as the subscriber's (`metadata.commit_timestamp` is the same Begin field). It acknowledges the
 * latest commit every 100 ms, so that the slot advances.
 *
 * Caveat: the probe is not free — its walsender decodes the same WAL as wal2nats's (a second
 * decoding process on a 2-vCPU machine), and it has a Node process of its own; with it, both the
 * Postgres latencies and wal2nats's are measured under a little more load than without.
 *
 * The parent drives it exactly like the latency subscriber (`start`, `end`, `count` over IPC, see
 * lib/latency-subscriber.ts); "messages" are the row changes it received.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LogicalReplicationService } from 'pg-logical-replication';
import { pgMicrosToUnixMs } from '@wal2nats/core';
import { PhaseProbeProcess, phaseRecorder } from './latency-subscriber.js';
import { BEGIN, COMMIT, DELETE, INSERT, RawPlugin, UPDATE } from './raw-pgoutput.js';

const SELF = fileURLToPath(import.meta.url);

interface ProbeOptions {
  host: string;
  port: number;
  user: string;
  database: string;
  slot: string;
}

async function probe(options: ProbeOptions): Promise<void> {
  const { slot, ...connection } = options;
  const service = new LogicalReplicationService(connection, {
    acknowledge: { auto: false, timeoutSeconds: 0 },
  });
  const recorder = phaseRecorder();
  // Commit time (Unix ms) of the transaction being received; NaN before the first Begin.
  let commitMs = NaN;
  let lastCommitLsn = '';
  let acked = '';
  service.on('data', (lsn: string, raw: Buffer) => {
    const type = raw[0];
    if (type === INSERT || type === UPDATE || type === DELETE) {
      const now = performance.timeOrigin + performance.now();
      recorder.arrive(now, now - commitMs);
    } else if (type === BEGIN) {
      // Int64 µs at offset 9 (after the type byte and the final LSN); < 2^53, exact as a double.
      commitMs = pgMicrosToUnixMs(raw.readUInt32BE(9) * 2 ** 32 + raw.readUInt32BE(13));
    } else if (type === COMMIT) {
      lastCommitLsn = lsn;
    }
  });
  setInterval(() => {
    if (lastCommitLsn && lastCommitLsn !== acked) {
      acked = lastCommitLsn;
      void service.acknowledge(lastCommitLsn).catch(() => {});
    }
  }, 100);
  const fail = (err: unknown) => {
    process.stderr.write(
      `postgres latency probe: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  };
  service.on('error', fail);
  // Ready once the walsender streams (the slot was created before any write: nothing is missed).
  const started = new Promise<void>((resolve) => service.once('start', () => resolve()));
  void service.subscribe(new RawPlugin() as never, slot).catch(fail);
  await started;
  recorder.ready();
}

/** The probe as a child process of the bench; one request at a time. */
export class PostgresLatencyProbe extends PhaseProbeProcess {
  private constructor(options: ProbeOptions) {
    super(SELF, options, 'Postgres latency probe');
  }

  /** Spawns it on `slot` of the database at `url`; resolves once its walsender streams. */
  static async start(url: string, slot: string): Promise<PostgresLatencyProbe> {
    const u = new URL(url);
    const p = new PostgresLatencyProbe({
      host: u.hostname,
      port: Number(u.port),
      user: decodeURIComponent(u.username),
      database: decodeURIComponent(u.pathname.slice(1)),
      slot,
    });
    await p.ready;
    return p;
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  probe(JSON.parse(process.argv[2]!) as ProbeOptions).catch((err: unknown) => {
    process.stderr.write(`postgres latency probe: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
