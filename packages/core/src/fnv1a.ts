/**
 * FNV-1a (32 bits) over the UTF-16 code units of `text`: a small, stable hash. Shards are
 * chosen with it (pipeline/shard.ts) and standbys compare option fingerprints with it
 * (ha/holder-name.ts); neither may change silently, so both use this one function.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
