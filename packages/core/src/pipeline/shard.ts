import { fnv1a32 } from '../fnv1a.js';

/**
 * Which shard worker owns a table. Every change of one table goes to one shard, which keeps the
 * table's order; the hash spreads tables over shards. FNV-1a over the UTF-16 code units of
 * `schema.table`: stable across runs and versions (it must never change silently: the order of a
 * table across a restart does not depend on it, but operators reading metrics per shard do).
 */
export function shardForTable(schema: string, table: string, shardCount: number): number {
  if (shardCount <= 1) return 0;
  return fnv1a32(`${schema}.${table}`) % shardCount;
}
