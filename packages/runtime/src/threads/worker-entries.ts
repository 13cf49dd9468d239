/** The one registry of worker thread entry files. */
export const WorkerEntry = {
  reader: new URL('../source/reader-thread.js', import.meta.url),
  shard: new URL('../shard/shard-worker.js', import.meta.url),
} as const;
