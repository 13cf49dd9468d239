/**
 * Differential test against Postgres's own decoder: a `test_decoding` slot beside wal2nats's
 * slot, on the same WAL, over Postgres 15's contrib/test_decoding regression workloads; every
 * change and every value wal2nats publishes is compared with what test_decoding decoded, through
 * the contract's value mapping (support/reference-values.ts, written apart from packages/core).
 *
 * Upstream files (PostgreSQL 15.18, Debian source package postgresql-15 15.18-0+deb12u1),
 * vendored unchanged in test/fixtures/test_decoding/sql/ under the PostgreSQL licence
 * (test/fixtures/test_decoding/COPYRIGHT, README.md there):
 *   ddl, xact, rewrite, toast, permissions, decoding_in_xact, decoding_into_rel, binary,
 *   prepared, replorigin, time, messages, spill, truncate, stream, twophase, twophase_stream
 * (the regression schedule of contrib/test_decoding/Makefile, in its order, less slot.sql and
 * stats.sql: they manage slots and wait on statistics, and write almost no rows).
 *
 * How they are adapted (here, not in the files):
 *   - each file runs through psql (-X, ON_ERROR_STOP off) in one database, as pg_regress would,
 *     with the server settings of contrib/test_decoding/logical.conf plus max_prepared_transactions;
 *   - their own slot (`regression_slot`, read by the files themselves) is left to them: our two
 *     slots are separate and read nothing until the end;
 *   - wal2nats runs with its default publication (FOR ALL TABLES, created before the workload),
 *     so Postgres refuses the UPDATE and DELETE statements of tables without a replica identity
 *     that the files write (ddl.sql's table_without_key before its REPLICA IDENTITY FULL, …):
 *     those statements fail and write no WAL, for both decoders alike;
 *   - their expected output (the .out files) is not used: test_decoding's decoding of the same
 *     WAL is the reference.
 *
 * What is compared, per transaction in commit order: the tables, actions and order of the
 * changes (`commit_idx` = position, a TRUNCATE of several tables giving one change per table),
 * the commit timestamp to the microsecond, `record` value by value (unchanged TOASTed values:
 * filled from the old row or key when Postgres sent it, else left out and named in
 * `unchanged_toast_columns`), `changes` against the old row or key Postgres sent, the old key
 * or row of deletes, and that `record_pks` never holds null for an insert or an update.
 * Contractually different, so not compared: logical decoding messages (test_decoding prints
 * them; the contract publishes none, transaction annotations aside), and LSNs (test_decoding's
 * are the positions of the records it prints; `commit_lsn` is the commit record's start, so only
 * its grouping of a transaction's changes is compared).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { useServers } from './support/servers.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';
import { Listener } from './support/stream-fixture.js';
import type { Envelope } from './support/envelope.js';
import { postgresBin } from './harness/binaries.js';
import { waitFor } from './harness/index.js';
import {
  parseTdOutput,
  type TdChange,
  type TdColumn,
  type TdTransaction,
} from './support/test-decoding-output.js';
import { referenceValue, UnmappedType } from './support/reference-values.js';

const WORKLOAD_DIR = fileURLToPath(new URL('./fixtures/test_decoding/sql/', import.meta.url));
/** contrib/test_decoding/Makefile's REGRESS order, less slot and stats. */
const WORKLOAD = [
  'ddl',
  'xact',
  'rewrite',
  'toast',
  'permissions',
  'decoding_in_xact',
  'decoding_into_rel',
  'binary',
  'prepared',
  'replorigin',
  'time',
  'messages',
  'spill',
  'truncate',
  'stream',
  'twophase',
  'twophase_stream',
];

const servers = useServers({
  // contrib/test_decoding/logical.conf (64kB: transactions spill to disk), and prepared
  // transactions for prepared.sql and twophase.sql.
  postgres: {
    extraConf: {
      logical_decoding_work_mem: '64kB',
      autovacuum_naptime: '1d',
      max_prepared_transactions: '10',
    },
  },
});

function psql(url: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(postgresBin('psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=0', '-d', url, '-f', file], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 || code === 1 || code === 3 ? resolve() : reject(new Error(`psql ${file} exited ${code}`)),
    );
  });
}

/** `2024-10-28 21:37:01.12747+00` (test_decoding, TimeZone UTC) → the contract's commit_timestamp. */
function commitTimestamp(text: string): string {
  const match = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/.exec(text);
  return match ? `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(6, '0')}Z` : `unexpected ${text}`;
}

class Comparison {
  readonly differences: string[] = [];
  readonly unmapped = new Set<string>();
  values = 0;

  value(column: TdColumn): unknown {
    if (column.text === null || column.text === undefined) return null;
    this.values++;
    try {
      return referenceValue(column.type, column.text);
    } catch (error) {
      if (error instanceof UnmappedType) this.unmapped.add(column.type);
      else throw error;
      return column.text;
    }
  }

  differ(where: string, what: string, expected: unknown, actual: unknown): void {
    this.differences.push(
      `${where}: ${what}: expected ${JSON.stringify(expected)?.slice(0, 300)}, got ${JSON.stringify(actual)?.slice(0, 300)}`,
    );
  }

  change(where: string, td: TdChange, event: Envelope): void {
    const record = (event.record ?? null) as Record<string, unknown> | null;
    if (td.action === 'truncate') {
      if (record !== null) this.differ(where, 'record of a truncate', null, record);
      return;
    }
    if (td.action === 'delete') {
      const old = new Map(td.columns.map((c) => [c.name, c]));
      for (const column of td.columns)
        if (!record || !(column.name in record))
          this.differ(where, `old column ${column.name}`, 'present', record);
      for (const [name, actual] of Object.entries(record ?? {})) {
        const column = old.get(name);
        const expected = column ? this.value(column) : null;
        if (!deepEqual(expected, actual)) this.differ(where, `deleted ${name}`, expected, actual);
      }
      return;
    }
    const old = new Map((td.old ?? []).map((c) => [c.name, c]));
    const expectedRecord: Record<string, unknown> = {};
    const missing: string[] = [];
    for (const column of td.columns) {
      if (column.text === undefined) {
        const filled = old.get(column.name);
        if (filled && filled.text !== undefined) expectedRecord[column.name] = this.value(filled);
        else missing.push(column.name);
      } else {
        expectedRecord[column.name] = this.value(column);
      }
    }
    if (!deepEqual(expectedRecord, record)) {
      for (const name of new Set([...Object.keys(expectedRecord), ...Object.keys(record ?? {})])) {
        if (!deepEqual(expectedRecord[name], record?.[name]))
          this.differ(where, `record.${name}`, expectedRecord[name], record?.[name]);
      }
    }
    const toast = event.metadata.unchanged_toast_columns;
    if (!deepEqual(missing.length > 0 ? missing : undefined, toast))
      this.differ(where, 'unchanged_toast_columns', missing, toast);
    if (event.metadata.record_pks.some((v) => v === null))
      this.differ(where, 'record_pks without null', 'no null', event.metadata.record_pks);
    if (td.action === 'insert') {
      if (event.changes !== null) this.differ(where, 'changes of an insert', null, event.changes);
      return;
    }
    // The old values of the columns that changed, as far as the old row or key Postgres sent
    // tells (test_decoding leaves its null columns out: such a column may be reported as null).
    const changes = (event.changes ?? {}) as Record<string, unknown>;
    const newText = new Map(td.columns.map((c) => [c.name, c.text]));
    for (const column of td.old ?? []) {
      const after = newText.get(column.name);
      if (column.text === undefined || after === undefined) continue;
      if (after !== column.text) {
        const expected = this.value(column);
        if (!deepEqual(expected, changes[column.name]))
          this.differ(where, `changes.${column.name}`, expected, changes[column.name]);
      } else if (column.name in changes) {
        this.differ(where, `changes.${column.name} (unchanged)`, 'absent', changes[column.name]);
      }
    }
    for (const [name, before] of Object.entries(changes)) {
      if (old.has(name)) continue;
      if (before !== null || newText.get(name) === null)
        this.differ(
          where,
          `changes.${name} (Postgres sent no old value)`,
          'null, for a column that was null',
          before,
        );
    }
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

describe('differential: wal2nats against test_decoding on the same WAL', () => {
  it(
    'publishes every change and value of contrib/test_decoding workloads as test_decoding decodes them',
    { timeout: 600_000 },
    async () => {
      const { pg, nats, nc } = servers;
      assert.deepEqual(
        WORKLOAD.filter((f) => !readdirSync(WORKLOAD_DIR).includes(`${f}.sql`)),
        [],
        'every workload file is vendored',
      );
      const url = await pg.createDatabase('regression');
      const sql = await pg.connect('regression');
      const w2n = new Wal2NatsProcess(
        runArgs({
          postgresUrl: url,
          natsUrl: nats.url,
          extra: ['--slot', 'w2n', '--log-level', 'info', '--mailbox-capacity', '20000'],
        }),
      );
      const listener = new Listener(nc, 'sequin.changes.regression.>', 'the regression database', () =>
        w2n.tail(),
      );
      try {
        await nc.flush();
        await w2n.streaming();
        await sql.query(`SELECT pg_create_logical_replication_slot('w2n_reference', 'test_decoding')`);
        const started = Date.now();
        for (const file of WORKLOAD) await psql(url, `${WORKLOAD_DIR}${file}.sql`);
        // Flushed at once (the server runs with synchronous_commit off): a slot reads only flushed WAL.
        await sql.query(
          'SET synchronous_commit = on; CREATE TABLE diff_sentinel (id int PRIMARY KEY); INSERT INTO diff_sentinel VALUES (1)',
        );
        const workloadMs = Date.now() - started;
        await waitFor(
          () => listener.messages.some((m) => m.body.metadata.table_name === 'diff_sentinel') || undefined,
          { what: 'the sentinel from wal2nats', timeoutMs: 120_000 },
        );

        await sql.query(
          `SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3`,
        );
        const rows = await sql.query<{ data: string }>(
          `SELECT data FROM pg_logical_slot_get_changes('w2n_reference', NULL, NULL, 'include-xids', '0', 'include-timestamp', '1', 'skip-empty-xacts', '1')`,
        );
        const reference = parseTdOutput(rows.rows.map((r) => r.data)).filter((t) => t.changes.length > 0);
        const expectedChanges = reference.reduce((n, t) => n + t.changes.length, 0);
        assert.equal(
          reference.at(-1)?.changes[0]?.table,
          'diff_sentinel',
          'test_decoding read up to the end',
        );
        // Everything before the sentinel arrived before it on its table: wait for the count.
        await listener.take(expectedChanges, 120_000);
        const events = listener.messages.map((m) => m.body);

        const transactions = new Map<number, Envelope[]>();
        for (const e of events) {
          const list = transactions.get(e.metadata.commit_lsn) ?? [];
          list.push(e);
          transactions.set(e.metadata.commit_lsn, list);
        }
        const ours = [...transactions.entries()]
          .sort((a, b) => a[0] - b[0])
          .map(([, list]) => list.sort((a, b) => a.metadata.commit_idx - b.metadata.commit_idx));
        const comparison = new Comparison();
        compareTransactions(comparison, reference, ours);
        const summary = `${reference.length} transactions, ${expectedChanges} changes, ${comparison.values} values compared; workload ran in ${workloadMs} ms`;
        console.log(`differential: ${summary}`);
        assert.deepEqual(
          [...comparison.unmapped],
          [],
          'types the reference mapping does not know: add them to support/reference-values.ts',
        );
        assert.deepEqual(
          comparison.differences.slice(0, 40),
          [],
          `${comparison.differences.length} differences (${summary})`,
        );
        assert.ok(expectedChanges > 10_000, `the workload decoded to ${expectedChanges} changes`);
        assert.equal(await w2n.stop(), 0);
      } finally {
        listener.close();
        w2n.kill();
        await sql.end();
      }
    },
  );
});

function compareTransactions(
  comparison: Comparison,
  reference: readonly TdTransaction[],
  ours: readonly Envelope[][],
): void {
  if (reference.length !== ours.length) {
    comparison.differ('the stream', 'transactions', reference.length, ours.length);
    const describe = (tables: string[]): string => [...new Set(tables)].join(',');
    for (let t = 0; t < Math.max(reference.length, ours.length); t++) {
      const a = describe(reference[t]?.changes.map((c) => `${c.table} ${c.action}`) ?? []);
      const b = describe(ours[t]?.map((e) => `${e.metadata.table_name} ${e.action}`) ?? []);
      if (a !== b) {
        comparison.differ(
          `transaction ${t}`,
          'first different transaction',
          `${reference[t]?.changes.length}: ${a}`,
          `${ours[t]?.length}: ${b} at ${ours[t]?.[0]?.metadata.commit_lsn}`,
        );
        break;
      }
    }
  }
  for (let t = 0; t < Math.min(reference.length, ours.length); t++) {
    const td = reference[t]!;
    const events = ours[t]!;
    const where = `transaction ${t} (commit_lsn ${events[0]?.metadata.commit_lsn})`;
    if (td.changes.length !== events.length) {
      comparison.differ(
        where,
        'changes',
        td.changes.map((c) => `${c.table} ${c.action}`),
        events.map((e) => `${e.metadata.table_name} ${e.action}`),
      );
      continue;
    }
    for (let i = 0; i < events.length; i++) {
      const change = td.changes[i]!;
      const event = events[i]!;
      const at = `${where} change ${i} (${change.schema}.${change.table} ${change.action})`;
      if (
        event.metadata.table_schema !== change.schema ||
        event.metadata.table_name !== change.table ||
        event.action !== change.action
      ) {
        comparison.differ(
          at,
          'table and action',
          `${change.schema}.${change.table} ${change.action}`,
          `${event.metadata.table_schema}.${event.metadata.table_name} ${event.action}`,
        );
        continue;
      }
      if (event.metadata.commit_idx !== i) comparison.differ(at, 'commit_idx', i, event.metadata.commit_idx);
      if (event.metadata.commit_timestamp !== commitTimestamp(td.commitTime))
        comparison.differ(
          at,
          'commit_timestamp',
          commitTimestamp(td.commitTime),
          event.metadata.commit_timestamp,
        );
      comparison.change(at, change, event);
    }
  }
}
