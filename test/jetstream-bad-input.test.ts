/**
 * JetStream mode's refusals: a server without JetStream (exit 2), a stream written by someone else
 * (exit 2 at start, exit 3 when it happens while running, naming the stream), and a message larger than the stream takes (shown
 * as failing with the limit, holding the stream, never sent).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { startNats, waitFor } from './harness/index.js';
import { streamMessageCount } from './support/stream.js';
import { useServers } from './support/servers.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

const servers = useServers();

interface FailingView {
  id: string;
  table: string;
  deliver_count: number;
  last_error: string | null;
}

async function database(name: string): Promise<string> {
  const url = await servers.pg.createDatabase(name);
  const client = await servers.pg.connect(name);
  await client.query('CREATE TABLE t (id int PRIMARY KEY, note text)');
  await client.end();
  return url;
}

async function insert(name: string, sql: string): Promise<void> {
  const client = await servers.pg.connect(name);
  await client.query(sql);
  await client.end();
}

function text(w2n: Wal2NatsProcess): string {
  return w2n.lines.map((l) => `${l.msg} ${String(l.error ?? '')} ${String(l.hint ?? '')}`).join('\n');
}

describe('JetStream mode refuses', () => {
  it('a NATS server without JetStream (exit 2, saying how to fix it)', async () => {
    const url = await database('nojs');
    const plain = await startNats({ jetstream: false });
    const w2n = new Wal2NatsProcess(
      runArgs({ postgresUrl: url, natsUrl: plain.url, extra: ['--slot', 'nojs', '--jetstream'] }),
    );
    try {
      assert.equal(await w2n.exited, 2);
      assert.match(text(w2n), /the NATS server does not offer JetStream .*enable JetStream on the server/s);
      assert.ok(!text(w2n).includes('waiting for JetStream'), 'refused at once, not waited for');
    } finally {
      w2n.kill();
      await plain.dispose();
    }
  });

  it("a stream whose last message is another writer's at start (exit 2, naming the stream)", async () => {
    const url = await database('shared');
    const jsm = await jetstreamManager(servers.nc);
    await jsm.streams.add({
      name: 'SHARED',
      subjects: ['sequin.changes.shared.>'],
      storage: StorageType.File,
    });
    const h = headers();
    h.set('Nats-Msg-Id', 'someone-else-1');
    await jetstream(servers.nc).publish('sequin.changes.shared.public.t.insert', '{"hello":1}', {
      headers: h,
    });
    const w2n = new Wal2NatsProcess(
      runArgs({ postgresUrl: url, natsUrl: servers.nats.url, extra: ['--slot', 'shared', '--jetstream'] }),
    );
    try {
      assert.equal(await w2n.exited, 2);
      assert.match(
        text(w2n),
        /JetStream stream SHARED has another writer: its last message \(sequence 1, subject sequin\.changes\.shared\.public\.t\.insert\) was not published by wal2nats/,
      );
    } finally {
      w2n.kill();
    }
  });

  it('another writer appending while it runs (exit 3, naming the stream)', async () => {
    const url = await database('fenced');
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'fenced', '--jetstream', '--create-stream', 'FENCED'],
      }),
    );
    try {
      await w2n.streaming();
      await insert('fenced', "INSERT INTO t VALUES (1, 'a')");
      await waitFor(async () => (await streamMessageCount(servers.nc, 'FENCED')) >= 1 || undefined, {
        what: 'the first change stored',
      });
      // Someone else (a stale instance, another program) appends to the stream.
      await jetstream(servers.nc).publish('sequin.changes.fenced.public.t.insert', '{"foreign":true}');
      await insert('fenced', "INSERT INTO t VALUES (2, 'b')");
      assert.equal(await w2n.exited, 3);
      assert.match(
        text(w2n),
        /JetStream stream FENCED is written by someone else: another writer: JetStream stream FENCED ends at sequence 2, but the last message wal2nats stored there is sequence 1/,
      );
      assert.ok(
        w2n.lines.some((l) => String(l.hint ?? '').includes('only writer')),
        'with a hint',
      );
    } finally {
      w2n.kill();
    }
  });

  it('to send a message larger than the stream takes: it holds the stream, shown failing with the limit', async () => {
    const url = await database('toobig');
    const jsm = await jetstreamManager(servers.nc);
    await jsm.streams.add({
      name: 'TOOBIG',
      subjects: ['sequin.changes.toobig.>'],
      storage: StorageType.File,
      max_msg_size: 2048,
    });
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'toobig', '--jetstream', '--max-backoff', '2s'],
      }),
    );
    try {
      await w2n.streaming();
      const http = await w2n.httpBase();
      await insert(
        'toobig',
        `INSERT INTO t VALUES (1, 'small'); INSERT INTO t VALUES (2, '${'x'.repeat(4000)}'); INSERT INTO t VALUES (3, 'after')`,
      );
      await waitFor(async () => (await streamMessageCount(servers.nc, 'TOOBIG')) >= 1 || undefined, {
        what: 'the small change stored',
      });
      const failing = await waitFor(
        async () => {
          const views = (await (await fetch(`${http}/api/messages?state=failing`)).json()) as FailingView[];
          return views.find((v) => (v.deliver_count ?? 0) >= 2);
        },
        { what: 'the large message shown failing twice', timeoutMs: 30_000, intervalMs: 200 },
      );
      assert.equal(failing.table, 'public.t');
      assert.match(
        failing.last_error ?? '',
        /over the max_msg_size of 2048 bytes of JetStream stream TOOBIG; raise it/,
      );
      assert.equal(
        await streamMessageCount(servers.nc, 'TOOBIG'),
        1,
        'nothing after it is stored: it holds the stream in commit order',
      );
      const metrics = await (await fetch(`${http}/metrics`)).text();
      assert.match(metrics, /wal2nats_publish_retries_total\{table="public.t"[^}]*\} [1-9]/);
      assert.equal(await w2n.stop(), 0);
    } finally {
      w2n.kill();
    }
  });
});
