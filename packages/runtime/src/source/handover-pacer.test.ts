/**
 * Unit tests of the reader's hand-over pacing (handover-pacer.ts): while changes trickle, an
 * isolated change goes at once and the ones that follow a hand-over within the linger wait for
 * its end; once they flow at the busy rate, everything goes at once; after a quiet spell,
 * pacing again.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HandoverPacer } from './handover-pacer.js';

const options = { lingerMs: 10, minChangesPerSecond: 300, busyChangesPerSecond: 5_000, windowMs: 100 };

/** Drives a pacer like WalReader: a change at each of `times`; returns each change's wait. */
function waits(pacer: HandoverPacer, times: readonly number[], perChange = 1): number[] {
  let routed = 0;
  let scheduledAt: number | null = null;
  const result: number[] = [];
  for (const t of times) {
    if (scheduledAt !== null && scheduledAt <= t) {
      pacer.handedOver(scheduledAt);
      scheduledAt = null;
    }
    routed += perChange;
    if (scheduledAt === null) scheduledAt = t + pacer.delayMs(t, routed);
    result.push(scheduledAt - t);
  }
  return result;
}

describe('HandoverPacer', () => {
  it('hands an isolated change over at once (100 changes/s, 10 ms apart)', () => {
    const pacer = new HandoverPacer(options);
    assert.deepEqual(
      new Set(
        waits(
          pacer,
          Array.from({ length: 200 }, (_, i) => i * 10),
        ),
      ),
      new Set([0]),
    );
  });

  it('hands everything over at once below the pacing rate, even changes close together (250 changes/s in pairs)', () => {
    const pacer = new HandoverPacer(options);
    assert.deepEqual(
      new Set(
        waits(
          pacer,
          Array.from({ length: 500 }, (_, i) => Math.floor(i / 2) * 8 + (i % 2)),
        ),
      ),
      new Set([0]),
    );
  });

  it('holds changes that follow a hand-over within the linger until its end (1,000 changes/s)', () => {
    const pacer = new HandoverPacer(options);
    // The first window (100 ms) is measured at once; the 1,000/s shows from the second on.
    const w = waits(
      pacer,
      Array.from({ length: 1100 }, (_, i) => i),
    );
    assert.ok(
      w.slice(0, 100).every((ms) => ms === 0),
      'at once until a window says 1,000/s',
    );
    assert.ok(
      w.slice(100).some((ms) => ms === 9),
      'then a change right after a hand-over waits until 10 ms after it',
    );
    // Still at 1,000/s over the window: a change 15 ms after the last hand-over is isolated.
    pacer.handedOver(1_110);
    assert.equal(
      pacer.delayMs(1_125, 1_101),
      0,
      'a change 10 ms or more after the last hand-over goes at once',
    );
    assert.ok(
      w.every((ms) => ms <= 10),
      'no change waits longer than the linger',
    );
    const handOvers = w.slice(200).filter((ms, i) => ms > (w[199 + i] ?? 0)).length;
    assert.ok(handOvers <= 91, `about one hand-over per 10 ms, got ${handOvers} in 0.9 s`);
  });

  it('hands over at once from the window in which the busy rate is reached, and paces again at 1,000/s after it', () => {
    const pacer = new HandoverPacer(options);
    // 1,000/s for 300 ms (paced from the second window), then 20,000/s (20 per ms) for 300 ms,
    // then 1,000/s again.
    const times: number[] = [];
    for (let t = 0; t < 300; t++) times.push(t);
    for (let t = 300; t < 600; t++) for (let k = 0; k < 20; k++) times.push(t);
    for (let t = 600; t < 1000; t++) times.push(t);
    const w = waits(pacer, times);
    const at = (from: number, to: number) => w.filter((_, i) => times[i]! >= from && times[i]! < to);
    assert.ok(
      at(200, 300).some((ms) => ms > 0),
      'paced at 1,000/s',
    );
    // 500 changes in a window make it busy: 25 ms into the burst, seen within one linger.
    assert.ok(
      at(340, 600).every((ms) => ms === 0),
      'at once while busy',
    );
    assert.ok(
      at(800, 1000).some((ms) => ms > 0),
      'paced again at 1,000/s',
    );
  });

  it('a steady rate just under the busy rate is paced, just over it is not', () => {
    for (const [perMs, paced] of [
      [4.9, true],
      [5.1, false],
    ] as const) {
      const pacer = new HandoverPacer(options);
      let routed = 0;
      let anyWait = false;
      for (let t = 0; t <= 1_000; t++) {
        routed = Math.floor(t * perMs);
        const delay = pacer.delayMs(t, routed);
        if (t > 200 && delay > 0) anyWait = true;
        if (delay === 0) pacer.handedOver(t);
      }
      assert.equal(anyWait, paced, `${perMs * 1000} changes/s`);
    }
  });
});
