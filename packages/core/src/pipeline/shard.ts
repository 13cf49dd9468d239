/**
 * Which shard worker owns a table. Every change of one table goes to one shard, which keeps the
 * table's order; the hash spreads tables over shards. FNV-1a over the UTF-16 code units of
 * `schema.table`: stable across runs and versions (it must never change silently: the order of a
 * table across a restart does not depend on it, but operators reading metrics per shard do).
 */
export function shardForTable(schema: string, table: string, shardCount: number): number {
  if (shardCount <= 1) return 0;
  let hash = 0x811c9dc5;
  const key = `${schema}.${table}`;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shardCount;
}
