/**
 * CoreNatsSink with several cycles in flight, against a stand-in connection that records every
 * chunk handed to nats.js and answers each flush when the test says: a cycle settles on its own
 * PONG, in order; the bytes a cycle handed over stay as they were until its PONG (nats.js reads
 * them until the socket wrote them), while later cycles are written; a lost connection fails
 * every cycle in flight; a permission error heard before a cycle's PONG fails that cycle's
 * messages on the refused subject, and none of the next cycle's.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { PermissionViolationError } from '@nats-io/transport-node';
import { OutgoingMessage } from '../shard/outgoing-message.js';
import { CoreNatsSink, PING_LINGER } from './core-nats-sink.js';
import { ALL_DELIVERED, type CycleResult } from './delivery-sink.js';
import type { NatsLink } from './nats-link.js';
import type { PingLingerOptions } from './ping-linger.js';

interface HandedChunk {
  readonly chunk: Uint8Array;
  readonly copy: Buffer;
  /** How many flushes (PINGs) were asked for before it: it is confirmed by PONG number `ping`. */
  readonly ping: number;
}

/** Every cycle PINGs at once (as when the shard is busy): the tests of cycles in flight. */
const NO_LINGER: PingLingerOptions = { ...PING_LINGER, busyMessagesPerSecond: 0 };

/** A NatsLink whose connection records chunks and whose flushes the test answers, in order. */
function standInLink(linger: PingLingerOptions = NO_LINGER) {
  const handed: HandedChunk[] = [];
  const flushes: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const flushWaiters: (() => void)[] = [];
  let pongs = 0;
  const nc = {
    protocol: {
      sendCommand: (chunk: Uint8Array) =>
        handed.push({ chunk, copy: Buffer.from(chunk), ping: pongs + flushes.length }),
      flushPending: () => {},
    },
    info: { headers: true, max_payload: 1 << 20 },
    isClosed: () => false,
    flush: () =>
      new Promise<void>((resolve, reject) => {
        flushes.push({ resolve, reject });
        for (const waiter of flushWaiters.splice(0)) waiter();
      }),
  };
  const link = {
    nc,
    connected: true,
    epoch: 0,
    permissionErrors: [] as PermissionViolationError[],
    fatalError: null,
    onReconnect: () => {},
    close: async () => {},
  };
  return {
    link,
    sink: new CoreNatsSink(link as unknown as NatsLink, linger),
    handed,
    /** PINGs written and not yet answered. */
    pings: (): number => flushes.length,
    /** Resolves when the next PING is written. */
    nextPing: (): Promise<void> => new Promise<void>((resolve) => flushWaiters.push(resolve)),
    /** The server's next PONG. Chunks it confirms must still hold what they held when handed over. */
    pong: (): void => {
      const confirmed = handed.filter((h) => h.ping === pongs);
      assert.ok(
        confirmed.every((h) => h.copy.equals(h.chunk)),
        `bytes of cycle ${pongs + 1} changed before its PONG`,
      );
      pongs++;
      flushes.shift()!.resolve();
    },
    /** The connection dropped: nats.js rejects every PING outstanding, in order. */
    drop: (): void => {
      link.epoch++;
      link.connected = false;
      for (const flush of flushes.splice(0)) flush.reject(new Error('connection disconnected'));
    },
  };
}

let n = 0;
function message(subject: string): OutgoingMessage {
  n++;
  return OutgoingMessage.fromText({
    seq: n,
    subject,
    action: 'insert',
    msgId: `id-${n}`,
    json: JSON.stringify({ n, text: 'x'.repeat(200) }),
    commitTime: 0,
  });
}

/** One cycle of `subjects`, settled: its result promise. */
function cycle(sink: CoreNatsSink, subjects: string[]): Promise<CycleResult> {
  sink.beginCycle();
  for (const subject of subjects) sink.publishEncoded(message(subject));
  return sink.settle();
}

describe('CoreNatsSink with cycles in flight', () => {
  it("settles each cycle on its own PONG, in order, and reuses a cycle's memory only after its PONG", async () => {
    const { sink, pong, handed } = standInLink();
    const order: number[] = [];
    const results = [1, 2, 3].map((i) =>
      cycle(sink, ['s.a', 's.b']).then((result) => {
        order.push(i);
        return result;
      }),
    );
    for (let round = 0; round < 20; round++) {
      pong();
      await results[round];
      // The next cycle is written while two are in flight: it must not reuse their memory.
      results.push(cycle(sink, ['s.a', 's.b', 's.c']));
    }
    pong();
    pong();
    pong();
    assert.deepEqual(
      await Promise.all(results),
      results.map(() => ALL_DELIVERED),
    );
    assert.deepEqual(order, [1, 2, 3]);
    assert.ok(handed.length >= 23, 'every cycle handed its bytes over');
  });

  it('fails every cycle in flight when the connection drops', async () => {
    const { sink, drop } = standInLink();
    const first = cycle(sink, ['s.a']);
    const second = cycle(sink, ['s.a', 's.b']);
    drop();
    for (const [result, count] of [
      [await first, 1],
      [await second, 2],
    ] as const) {
      assert.equal(result.connectionLost, true);
      assert.equal(result.failures.size, count);
    }
  });

  it("a permission error heard before a cycle's PONG fails that cycle's messages on the refused subject only, none of the next cycle", async () => {
    const { sink, link, pong } = standInLink();
    const first = cycle(sink, ['s.x', 's.y', 's.x']);
    const second = cycle(sink, ['s.y', 's.x']);
    link.permissionErrors.push(
      new PermissionViolationError('Permissions Violation for Publish to "s.x"', 'publish', 's.x'),
    );
    pong();
    const result = await first;
    assert.equal(result.connectionLost, false);
    assert.deepEqual([...result.failures.keys()], [0, 2]);
    assert.match(result.failures.get(0)!, /NATS refused to let us publish to s\.x/);
    pong();
    assert.deepEqual(await second, ALL_DELIVERED);
  });
});

describe('CoreNatsSink while the shard is quiet (a PING shared by consecutive cycles)', () => {
  const QUIET: PingLingerOptions = {
    lingerMs: 20,
    fallbackMs: 30,
    busyMessagesPerSecond: 1_000,
    windowMs: 1_000,
    maxCyclesPerPing: 3,
  };

  it('writes every message at once and, when no cycle comes, one PING after fallbackMs for the cycles that wait; they settle in order on its PONG', async () => {
    const { sink, pong, handed, pings, nextPing } = standInLink(QUIET);
    const order: number[] = [];
    const pinged = nextPing();
    const results = [1, 2].map((i) =>
      cycle(sink, ['s.a']).then((result) => {
        order.push(i);
        return result;
      }),
    );
    assert.equal(handed.length, 2, 'both cycles wrote their message before any PING');
    assert.equal(pings(), 0, 'the PING waits');
    await pinged;
    assert.equal(pings(), 1, 'one PING for both');
    pong();
    assert.deepEqual(await Promise.all(results), [ALL_DELIVERED, ALL_DELIVERED]);
    assert.deepEqual(order, [1, 2]);
  });

  it('writes the PING at once when maxCyclesPerPing cycles wait for it, and when the shard is busy', async () => {
    const { sink, pong, pings } = standInLink(QUIET);
    const three = [cycle(sink, ['s.a']), cycle(sink, ['s.a']), cycle(sink, ['s.a'])];
    assert.equal(pings(), 1, 'the third cycle wrote the shared PING');
    pong();
    assert.deepEqual(await Promise.all(three), [ALL_DELIVERED, ALL_DELIVERED, ALL_DELIVERED]);
    // 1,000 messages within the window: busy, every cycle PINGs at once.
    const busy = cycle(
      sink,
      Array.from({ length: 1_000 }, () => 's.b'),
    );
    assert.equal(pings(), 1, 'a busy cycle does not wait');
    pong();
    assert.deepEqual(await busy, ALL_DELIVERED);
    const next = cycle(sink, ['s.b']);
    assert.equal(pings(), 1, 'nor does the next one');
    pong();
    assert.deepEqual(await next, ALL_DELIVERED);
  });

  it("a permission error heard before the shared PONG fails the refused subject's messages of every cycle that shared it", async () => {
    const { sink, link, pong, nextPing } = standInLink(QUIET);
    const pinged = nextPing();
    const first = cycle(sink, ['s.x', 's.y']);
    const second = cycle(sink, ['s.y', 's.x']);
    await pinged;
    link.permissionErrors.push(
      new PermissionViolationError('Permissions Violation for Publish to "s.x"', 'publish', 's.x'),
    );
    pong();
    assert.deepEqual([...(await first).failures.keys()], [0]);
    assert.deepEqual([...(await second).failures.keys()], [1], 'the second cycle too: its s.x was refused');
  });

  it('fails the cycles waiting for a PING when the connection drops before it is answered', async () => {
    const { sink, drop, nextPing } = standInLink(QUIET);
    const pinged = nextPing();
    const waiting = [cycle(sink, ['s.a']), cycle(sink, ['s.a', 's.b'])];
    await pinged;
    drop();
    for (const result of await Promise.all(waiting)) assert.equal(result.connectionLost, true);
  });
});
