/**
 * The values of a pgoutput TupleData as positions in the message's bytes, without making a
 * string of each (pgoutput-decoder.ts decodes them to strings; the shards' byte path,
 * ChangeEncoder.encodeRowBytes, copies most of them as they are).
 * https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html (TupleData)
 */
export const RawKind = { null: 0x6e, unchanged: 0x75, text: 0x74 } as const;

export class RawTuple {
  count = 0;
  /** Per column: RawKind. Columns at or past `count` are absent (unchanged TOAST). */
  kinds = new Uint8Array(32);
  starts = new Int32Array(32);
  ends = new Int32Array(32);

  /**
   * Reads the TupleData at `src[o]` (not past `limit`); returns the offset after it, or -1 when
   * it is not one this reader handles (binary values, a truncated message): the caller then
   * takes the decoder's path, which says what is wrong.
   */
  read(src: Uint8Array, o: number, limit: number): number {
    if (o + 2 > limit) return -1;
    const count = (((src[o]! << 8) | src[o + 1]!) << 16) >> 16;
    o += 2;
    if (count < 0) return -1;
    if (count > this.kinds.length) {
      this.kinds = new Uint8Array(count);
      this.starts = new Int32Array(count);
      this.ends = new Int32Array(count);
    }
    for (let i = 0; i < count; i++) {
      if (o >= limit) return -1;
      const kind = src[o++]!;
      this.kinds[i] = kind;
      if (kind === RawKind.text) {
        if (o + 4 > limit) return -1;
        const length = src[o]! * 0x1000000 + ((src[o + 1]! << 16) | (src[o + 2]! << 8) | src[o + 3]!);
        o += 4;
        if (o + length > limit) return -1;
        this.starts[i] = o;
        this.ends[i] = o + length;
        o += length;
      } else if (kind !== RawKind.null && kind !== RawKind.unchanged) {
        return -1;
      }
    }
    this.count = count;
    return o;
  }

  /** The kind of column `i` (unchanged when the tuple has fewer columns). */
  kind(i: number): number {
    return i < this.count ? this.kinds[i]! : RawKind.unchanged;
  }
}
