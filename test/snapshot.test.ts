/**
 * `--initial-snapshot` (core NATS, and with `--jetstream` through the stream's ordered chain):
 * the rows that were already there arrive as `read` events, then the
 * stream goes on from exactly the snapshot's position — checked under concurrent writes by
 * replaying every message onto an empty copy of the table and comparing it with the table:
 * an insert of a row the copy already has is an overlap, an update or delete of a row it does
 * not have (or with other old values) is a gap.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import { waitFor } from './harness/index.js';
import type { Envelope } from './support/envelope.js';
import { metricValue } from './support/metrics.js';
import { readStream, streamMessageCount } from './support/stream.js';
import { Listener } from './support/stream-fixture.js';
import { useServers } from './support/servers.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

// max_payload small enough that one test can make a row undeliverable on purpose.
const servers = useServers({ nats: { config: 'max_payload: 8192' } });

/** Small transactions of inserts, updates and deletes on `accounts`, until stopped. */
class ConcurrentWriter {
  transactions = 0;
  private running = true;
  private readonly done: Promise<void>;
  private nextId: number;

  constructor(
    private readonly client: Client,
    firstNewId: number,
    existing: number,
  ) {
    this.nextId = firstNewId;
    this.done = this.run(existing);
  }

  private async run(existing: number): Promise<void> {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    while (this.running) {
      await this.client.query('BEGIN');
      for (let k = 0; k < 3; k++) {
        const op = random(3);
        const id = 1 + random(existing);
        if (op === 0)
          await this.client.query('INSERT INTO accounts VALUES ($1, 0, $2)', [this.nextId++, 'new']);
        else if (op === 1)
          await this.client.query('UPDATE accounts SET balance = balance + 1 WHERE id = $1', [id]);
        else await this.client.query('DELETE FROM accounts WHERE id = $1', [id]);
      }
      await this.client.query('COMMIT');
      this.transactions++;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

type Row = Record<string, unknown>;

/** Applies the messages of one table in arrival order; returns the problems found. */
function replay(messages: readonly Envelope[], state: Map<number, Row>): string[] {
  const problems: string[] = [];
  for (const m of messages) {
    const record = m.record;
    const id = record?.['id'] as number;
    switch (m.action) {
      case 'read':
      case 'insert':
        if (state.has(id)) problems.push(`overlap: ${m.action} of id ${id}, which is already there`);
        state.set(id, record!);
        break;
      case 'update': {
        const before = state.get(id);
        if (!before) problems.push(`gap: update of id ${id}, which is not there`);
        else
          for (const [column, old] of Object.entries(m.changes ?? {}))
            if (before[column] !== old)
              problems.push(
                `gap: update of id ${id}: ${column} was ${String(before[column])}, the change says ${String(old)}`,
              );
        state.set(id, record!);
        break;
      }
      case 'delete':
        if (!state.has(id)) problems.push(`gap: delete of id ${id}, which is not there`);
        else if (JSON.stringify(state.get(id)) !== JSON.stringify(record))
          problems.push(
            `gap: delete of id ${id}: ${JSON.stringify(state.get(id))} is not ${JSON.stringify(record)}`,
          );
        state.delete(id);
        break;
      default:
        problems.push(`unexpected ${m.action}`);
    }
    if (problems.length > 10) break;
  }
  return problems;
}

describe('initial snapshot', () => {
  it('publishes every existing row as a read event, then streams on with no gap and no overlap under concurrent writes', async () => {
    const rows = 30_000;
    const url = await servers.pg.createDatabase('snap');
    const setup = await servers.pg.connect('snap');
    const writerClient = await servers.pg.connect('snap');
    await setup.query(`
      CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL, note text);
      ALTER TABLE accounts REPLICA IDENTITY FULL;
      INSERT INTO accounts SELECT g, g % 100, 'row ' || g FROM generate_series(1, ${rows}) g;
      CREATE TABLE small (code text PRIMARY KEY, v int);
      INSERT INTO small VALUES ('a', 1), ('b', 2), ('c', 3);
      CREATE TABLE empty (id int PRIMARY KEY);`);
    const all = new Listener(servers.nc, 'sequin.changes.snap.>', 'snap', () => w2n.tail());
    await servers.nc.flush();
    // Writes go on before, during and after the snapshot (and the slot's creation).
    const writer = new ConcurrentWriter(writerClient, rows + 1, rows);
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'snap', '--initial-snapshot'],
      }),
    );
    try {
      const http = await w2n.httpBase();
      const taken = await w2n.waitForLog(
        (l) => l.msg === 'initial snapshot: taken',
        'the snapshot to be taken',
        60_000,
      );
      const writesAtSnapshot = writer.transactions;
      const done = await w2n.waitForLog(
        (l) => l.msg === 'initial snapshot: done',
        'the snapshot to be delivered',
        120_000,
      );
      await w2n.streaming();
      const writesAfterSnapshot = writer.transactions;
      // Some more writes while streaming, then a sentinel that closes the check.
      await waitFor(() => writer.transactions >= writesAfterSnapshot + 100 || undefined, {
        what: '100 more transactions',
        timeoutMs: 60_000,
      });
      await writer.stop();
      await setup.query(`INSERT INTO accounts VALUES (-1, 0, 'sentinel')`);
      await waitFor(() => all.messages.some((m) => m.body.record?.['id'] === -1) || undefined, {
        what: 'the sentinel',
        timeoutMs: 120_000,
      });

      const accounts = all.messages
        .filter((m) => m.body.metadata.table_name === 'accounts')
        .map((m) => m.body);
      const reads = accounts.filter((m) => m.action === 'read');
      const firstChange = accounts.findIndex((m) => m.action !== 'read');
      assert.ok(
        firstChange > 0 && accounts.slice(firstChange).every((m) => m.action !== 'read'),
        'every read before the first change',
      );
      assert.equal(reads.length, (done.rows as number) - 3, 'the done line counts every row read');
      assert.ok(
        writer.transactions - writesAtSnapshot > 100 && accounts.length - reads.length > 100,
        `writes went on around the snapshot (${writesAtSnapshot} before it was taken)`,
      );
      assert.ok(reads.length > rows / 2, `${reads.length} rows read`);
      const lsn = Number(
        BigInt(`0x${String(taken.consistent_point).split('/')[0]}`) * 2n ** 32n +
          BigInt(`0x${String(taken.consistent_point).split('/')[1]}`),
      );
      for (const r of reads) {
        assert.equal(r.metadata.commit_lsn, lsn, 'a read carries the snapshot position');
        assert.equal(r.changes, null);
      }
      assert.equal(
        new Set(reads.map((r) => r.metadata.idempotency_key)).size,
        reads.length,
        'distinct idempotency keys',
      );
      // A transaction whose commit record starts exactly at the consistent point is not in the
      // snapshot and is decoded (snapbuild.c skips only commits before it: `ptr <
      // start_decoding_at`), so a change may carry the reads' commit_lsn; none may carry less.
      const early = accounts.slice(firstChange).filter((m) => m.metadata.commit_lsn < lsn);
      assert.deepEqual(
        early.map((m) => m.metadata.commit_lsn),
        [],
        `changes at or after the snapshot position only (${lsn})`,
      );

      const state = new Map<number, Row>();
      assert.deepEqual(replay(accounts, state), []);
      const table = await setup.query<{ id: number; balance: number; note: string }>(
        'SELECT id, balance, note FROM accounts ORDER BY id',
      );
      assert.equal(state.size, table.rows.length);
      for (const row of table.rows) assert.deepEqual(state.get(row.id), row, `row ${row.id}`);

      const small = all.messages.filter((m) => m.body.metadata.table_name === 'small');
      assert.deepEqual(small.map((m) => [m.subject, m.body.record]).sort(), [
        ['sequin.changes.snap.public.small.read', { code: 'a', v: 1 }],
        ['sequin.changes.snap.public.small.read', { code: 'b', v: 2 }],
        ['sequin.changes.snap.public.small.read', { code: 'c', v: 3 }],
      ]);
      assert.deepEqual(small.map((m) => m.body.metadata.record_pks).sort(), [['a'], ['b'], ['c']]);
      assert.equal(all.messages.filter((m) => m.body.metadata.table_name === 'empty').length, 0);

      assert.equal(
        await metricValue(http, 'wal2nats_snapshot_rows_total', { table: 'public.accounts' }),
        reads.length,
      );
      assert.equal(await metricValue(http, 'wal2nats_snapshot_rows_total', { table: 'public.small' }), 3);
      assert.equal(await metricValue(http, 'wal2nats_snapshot_running'), 0);
      assert.ok(
        w2n.lines.some(
          (l) =>
            l.msg === 'initial snapshot: table done' &&
            l.table === 'public.accounts' &&
            l.rows === reads.length,
        ),
      );
      assert.equal(await w2n.stop(), 0);

      // The slot exists now: a restart streams on and does not take the snapshot again.
      const again = new Wal2NatsProcess(
        runArgs({
          postgresUrl: url,
          natsUrl: servers.nats.url,
          extra: ['--slot', 'snap', '--initial-snapshot'],
        }),
      );
      try {
        await again.streaming();
        assert.ok(again.lines.some((l) => String(l.msg).startsWith('the slot exists: no initial snapshot')));
        const before = all.messages.length;
        await setup.query(`INSERT INTO accounts VALUES (-2, 0, 'after restart')`);
        await waitFor(() => all.messages.some((m) => m.body.record?.['id'] === -2) || undefined, {
          what: 'the insert after the restart',
          timeoutMs: 30_000,
        });
        assert.deepEqual(
          all.messages.slice(before).map((m) => m.body.action),
          ['insert'],
          'no read event after a restart',
        );
        assert.equal(await again.stop(), 0);
      } finally {
        again.kill();
      }
    } finally {
      all.close();
      await writer.stop().catch(() => {});
      w2n.kill();
      await setup.end();
      await writerClient.end();
    }
  });

  it('stopped before it is delivered, leaves no slot; the next start takes it again', async () => {
    const url = await servers.pg.createDatabase('snap_stop');
    const setup = await servers.pg.connect('snap_stop');
    await setup.query(
      `CREATE TABLE docs (id int PRIMARY KEY, body text); INSERT INTO docs SELECT g, 'ok' FROM generate_series(1, 100) g; INSERT INTO docs VALUES (0, repeat('x', 10000));`,
    );
    const listener = new Listener(servers.nc, 'sequin.changes.snap_stop.>', 'snap_stop', () => '');
    await servers.nc.flush();
    const first = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'snap_stop', '--initial-snapshot', '--max-backoff', '1s'],
      }),
    );
    try {
      // The 10 kB row is over NATS's max_payload: its page is retried, and the snapshot waits.
      await first.waitForLog(
        (l) => l.msg === 'initial snapshot: delivery failed; will retry',
        'a refused page',
        60_000,
      );
      const readyz = await fetch(`${await first.httpBase()}/readyz`);
      assert.equal(readyz.status, 503);
      assert.match(
        ((await readyz.json()) as { reasons: string[] }).reasons.join('; '),
        /publishing the initial snapshot/,
        '/readyz names the snapshot as what it waits for',
      );
      assert.equal(await first.stop(), 0);
      assert.ok(
        first.lines.some((l) => String(l.msg).startsWith('initial snapshot: stopped before it was complete')),
      );
      const slots = await setup.query(
        `SELECT slot_name FROM pg_replication_slots WHERE database = 'snap_stop'`,
      );
      assert.deepEqual(slots.rows, [], 'neither the slot nor the temporary one is left');
    } finally {
      first.kill();
    }
    await setup.query(`UPDATE docs SET body = 'short now' WHERE id = 0`);
    const reads = listener.messages.length;
    const second = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'snap_stop', '--initial-snapshot'],
      }),
    );
    try {
      await second.waitForLog((l) => l.msg === 'initial snapshot: done', 'the second snapshot', 60_000);
      await second.streaming();
      await waitFor(() => listener.messages.length - reads >= 101 || undefined, {
        what: 'the 101 rows of the second snapshot',
        timeoutMs: 30_000,
      });
      const ids = new Set(listener.messages.slice(reads).map((m) => m.body.record!['id']));
      assert.equal(ids.size, 101);
      assert.equal(
        listener.messages.find((m) => m.body.record!['id'] === 0)?.body.record!['body'],
        'short now',
      );
      const slots = await setup.query<{ slot_name: string; temporary: boolean }>(
        `SELECT slot_name, temporary FROM pg_replication_slots WHERE database = 'snap_stop'`,
      );
      assert.deepEqual(slots.rows, [{ slot_name: 'snap_stop', temporary: false }]);
      assert.equal(await second.stop(), 0);
    } finally {
      second.kill();
      listener.close();
      await setup.end();
    }
  });

  it("with --jetstream, goes through the stream's chain: after a stopped snapshot's rows, every row once, before the first change; a restart streams on", async () => {
    const rows = 12_000; // three pages
    const url = await servers.pg.createDatabase('snap_js');
    const setup = await servers.pg.connect('snap_js');
    // small's last row is over max_payload: the first snapshot stops there, part of it stored.
    await setup.query(`
      CREATE TABLE big (id int PRIMARY KEY, note text);
      INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, ${rows}) g;
      CREATE TABLE small (id int PRIMARY KEY, body text);
      INSERT INTO small VALUES (1, 'a'), (2, 'b'), (3, 'c'), (0, repeat('x', 10000));`);
    const args = runArgs({
      postgresUrl: url,
      natsUrl: servers.nats.url,
      extra: [
        '--slot',
        'snap_js',
        '--initial-snapshot',
        '--jetstream',
        '--create-stream',
        'SNAPJS',
        '--max-backoff',
        '1s',
      ],
    });
    const stopped = new Wal2NatsProcess(args);
    try {
      await stopped.waitForLog(
        (l) => l.msg === 'initial snapshot: delivery failed; the stream waits for this message, will retry',
        'the refused row to hold the chain',
        60_000,
      );
      await waitFor(async () => (await streamMessageCount(servers.nc, 'SNAPJS')) > 0 || undefined, {
        what: 'the rows before the refused one in the stream',
        timeoutMs: 30_000,
      });
      assert.equal(await stopped.stop(), 0);
    } finally {
      stopped.kill();
    }
    const partial = await streamMessageCount(servers.nc, 'SNAPJS');
    assert.ok(partial > 0 && partial < rows + 4, `part of the first snapshot stored (${partial})`);
    await setup.query(`UPDATE small SET body = 'short now' WHERE id = 0`);

    // The next snapshot's chain starts after the stream's last sequence (a read of the stopped
    // snapshot, recognised as ours).
    const first = new Wal2NatsProcess(args);
    let taken: Record<string, unknown>;
    try {
      taken = await first.waitForLog((l) => l.msg === 'initial snapshot: taken', 'the snapshot', 60_000);
      await first.waitForLog((l) => l.msg === 'initial snapshot: done', 'the snapshot', 120_000);
      await first.streaming();
      await setup.query(`INSERT INTO big VALUES (-1, 'after the snapshot')`);
      await waitFor(
        async () => (await streamMessageCount(servers.nc, 'SNAPJS')) >= partial + rows + 5 || undefined,
        { what: 'every row and the insert in the stream', timeoutMs: 60_000 },
      );
      assert.equal(await first.stop(), 0);
    } finally {
      first.kill();
    }
    // A restart: the stream's last message is a change; its shard reads the tail and goes on.
    const second = new Wal2NatsProcess(args);
    try {
      await second.streaming();
      await setup.query(`INSERT INTO big VALUES (-2, 'after the restart')`);
      await waitFor(
        async () => (await streamMessageCount(servers.nc, 'SNAPJS')) >= partial + rows + 6 || undefined,
        { what: 'the insert after the restart', timeoutMs: 60_000 },
      );
      assert.equal(await second.stop(), 0);
    } finally {
      second.kill();
    }
    const stored = (await readStream(servers.nc, 'SNAPJS')).slice(partial);
    const envelopes = stored.map((m) => m.data as Envelope);
    assert.equal(stored.length, rows + 6, 'every row once, and the two inserts');
    assert.equal(new Set(stored.map((m) => m.msgId)).size, stored.length, 'distinct Nats-Msg-Ids');
    assert.deepEqual(
      envelopes.map((e) => e.action).slice(rows + 4),
      ['insert', 'insert'],
      'every read before the first change',
    );
    const [hi, lo] = String(taken.consistent_point).split('/');
    const lsn = Number(BigInt(`0x${hi}`) * 2n ** 32n + BigInt(`0x${lo}`));
    assert.ok(
      envelopes.slice(0, rows + 4).every((e) => e.action === 'read' && e.metadata.commit_lsn === lsn),
      "the second snapshot's reads, at its position",
    );
    assert.deepEqual(
      envelopes
        .filter((e) => e.metadata.table_name === 'big' && e.action === 'read')
        .map((e) => e.metadata.commit_idx),
      Array.from({ length: rows }, (_, i) => i),
      "a table's reads in order",
    );
    await setup.end();
  });
});
