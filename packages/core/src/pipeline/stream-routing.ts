/**
 * JetStream mode routes tables by stream: one ordered chain of publishes per stream, and a
 * chain lives in one shard, so every table whose subjects a stream captures goes to that
 * stream's shard (several streams, several shards). Pure subject matching, shared by the
 * start-up check (main thread) and the router (reader thread).
 */

/** Whether `subject` matches the NATS subject filter `filter` (`*` one token, `>` the rest). */
export function subjectMatches(subject: string, filter: string): boolean {
  const s = subject.split('.');
  const f = filter.split('.');
  for (let i = 0; i < f.length; i++) {
    const token = f[i]!;
    if (token === '>') return s.length > i;
    if (i >= s.length) return false;
    if (token !== '*' && token !== s[i]) return false;
  }
  return s.length === f.length;
}

export interface StreamSubjects {
  readonly name: string;
  readonly subjects: readonly string[];
}

/** The index of the stream that captures `subject`, or -1 (streams of one account never overlap). */
export function streamCapturing(streams: readonly StreamSubjects[], subject: string): number {
  return streams.findIndex((stream) => stream.subjects.some((filter) => subjectMatches(subject, filter)));
}
