/**
 * The V8 heap limits of the worker threads (`new Worker(…, { resourceLimits })`).
 *
 * Young generation: a shard's and the reader's garbage is almost all short-lived (a batch, a
 * cycle), so a small young generation collects it as cheaply and keeps the process's memory
 * low: in the drain benchmark, V8's default (semi-spaces growing to 16 MiB per isolate) peaked
 * at ~250 MiB RSS, 12 MiB (4 MiB semi-spaces) at ~190 MiB with no more CPU.
 *
 * Old generation: a change waits in its shard's mailbox across a young-generation collection or
 * two, and the reader keeps a record of each transaction until its changes are delivered, so
 * these small objects are promoted and die in the old generation. V8 collects the old
 * generation when it has grown by a factor of the live size since the last mark-compact, and
 * takes that factor's ceiling from the heap's maximum size (`MaxGrowingFactor` in V8's
 * src/heap/heap-controller.cc): 4 for a maximum of 2 GiB or more (Node's default here is
 * ~4 GiB), from 1.3 up to 2 below. A shard whose live heap is ~13 MiB thus carried up to
 * ~30 MiB of dead messages before each mark-compact (two shards: ~60 MiB of a drain's peak RSS,
 * with the batch buffers that die with them), and the reader as much in a drain of one-row
 * transactions. With a maximum of 1 GiB the factor is ~1.6: the peak RSS of the
 * 1,000,000-change drain fell from 212–241 to 182–188 MiB, for about ten more mark-compacts of
 * a small heap per shard and run (1–2 % of a shard's time; no difference in CPU per change
 * measurable here). 512 MiB measured the same, 1.5 GiB no better; docs/benchmarks.md, "Flat
 * memory".
 *
 * The maximum is also a hard limit (a worker over it ends with ERR_WORKER_OUT_OF_MEMORY), so it
 * grows with what a thread may have to hold: 1 KiB per change the shards may hold undelivered
 * (the live heap per queued change measured ~0.3 KiB: one shard holding up to 200,000 changes
 * had ~60 MiB live; the frames' bytes live outside the heap, in slabs), and in the reader
 * 64 KiB per row of a backfill chunk (the rows of the chunk being read wait in its heap). From
 * 2 GiB on V8 sizes the heap as before: a shard's from ~2.1 million changes of
 * `--mailbox-capacity`, the reader's from as many in all shards or 32,768 `--backfill-chunk-rows`.
 */
import type { ResourceLimits } from 'node:worker_threads';

export const WORKER_YOUNG_GENERATION_MB = 12;

/** The old generation's maximum with the default settings. */
export const MIN_OLD_GENERATION_MB = 1024;
/** Old-generation room per change a thread may have to keep track of. */
export const OLD_GENERATION_BYTES_PER_CHANGE = 1024;
/** Old-generation room in the reader per row of a backfill chunk. */
export const OLD_GENERATION_BYTES_PER_BACKFILL_ROW = 64 * 1024;

/** What the limits depend on (a subset of Config). */
export interface HeapLimitSettings {
  readonly shards: number;
  readonly mailboxCapacity: number;
  readonly backfillChunkRows: number;
}

const mib = (bytes: number): number => Math.ceil(bytes / 2 ** 20);

/** A shard's limits: it holds up to `mailboxCapacity` undelivered changes. */
export function shardResourceLimits(settings: HeapLimitSettings): ResourceLimits {
  const forMailbox = mib(settings.mailboxCapacity * OLD_GENERATION_BYTES_PER_CHANGE);
  return {
    maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB,
    maxOldGenerationSizeMb: Math.max(MIN_OLD_GENERATION_MB, forMailbox),
  };
}

/**
 * The reader's limits: it keeps track of every change the shards hold (a transaction record
 * each, at most) and holds the rows of the backfill chunk being read.
 */
export function readerResourceLimits(settings: HeapLimitSettings): ResourceLimits {
  const forShards = mib(settings.shards * settings.mailboxCapacity * OLD_GENERATION_BYTES_PER_CHANGE);
  const forChunk = mib(settings.backfillChunkRows * OLD_GENERATION_BYTES_PER_BACKFILL_ROW);
  return {
    maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB,
    maxOldGenerationSizeMb: Math.max(MIN_OLD_GENERATION_MB, forShards, forChunk),
  };
}
