/**
 * Encodes messages for nats.js in bulk: the UTF-8 payload and the `NATS/1.0` header block of
 * each message are written into one large slab, and nats.js gets views into it. The profile of a
 * shard showed TextEncoder (nats.js encodes string payloads one by one), the headers' Map and
 * their per-message encoding, and the garbage they make as the largest costs after decoding.
 *
 * nats.js's publish() only calls `encode()` on the headers it is given, so a header block that is
 * already bytes is passed as an object with that one method. A slab is reused only after a cycle
 * settled successfully: by then nats.js has written (and dropped) every view into it.
 */
import { Buffer } from 'node:buffer';
import type { MsgHdrs } from '@nats-io/transport-node';

const SLAB_BYTES = 1 << 20;
const HEADER_START = 'NATS/1.0\r\nNats-Msg-Id: ';
const HEADER_END = '\r\n\r\n';

export interface EncodedWire {
  readonly headers: MsgHdrs;
  readonly payload: Uint8Array;
}

export class WireEncoder {
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  private used = 0;

  /** Starts a cycle; `reuse` is false after a failed cycle (views may still be referenced). */
  reset(reuse: boolean): void {
    if (!reuse) this.slab = Buffer.allocUnsafe(SLAB_BYTES);
    this.used = 0;
  }

  encode(json: string, msgId: string): EncodedWire {
    // Upper bound of the UTF-8 size of a JS string: 3 bytes per UTF-16 unit.
    const worst = HEADER_START.length + msgId.length * 3 + HEADER_END.length + json.length * 3;
    if (this.used + worst > this.slab.length) {
      // The views handed out so far stay valid in the old slab.
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, worst));
      this.used = 0;
    }
    const headerStart = this.used;
    let at = headerStart + this.slab.write(HEADER_START, headerStart, 'latin1');
    at += this.slab.write(msgId, at, 'utf8');
    at += this.slab.write(HEADER_END, at, 'latin1');
    const headerBytes = this.slab.subarray(headerStart, at);
    const payloadEnd = at + this.slab.write(json, at, 'utf8');
    const payload = this.slab.subarray(at, payloadEnd);
    this.used = payloadEnd;
    return { headers: { encode: () => headerBytes } as unknown as MsgHdrs, payload };
  }
}
