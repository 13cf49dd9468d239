/**
 * Who holds a replication slot, as the holder's own `application_name` says.
 *
 * The slot is the lease of high availability (docs/architecture.md, "Running two"): Postgres lets
 * one walsender stream from a slot, and a standby looks the holder up in `pg_stat_replication`
 * to tell a wal2nats peer (wait for it) from a foreign consumer (refuse, exit 3), to show who is
 * active, and to refuse to stand by for an active one that publishes something else.
 *
 *   wal2nats <host> <pid> <publication hash>-<subject options hash>
 *
 * Postgres keeps at most 63 bytes of an application name (NAMEDATALEN - 1) and only printable
 * ASCII, so the host is cut to fit and each hash is 8 hex digits of FNV-1a.
 */
import { fnv1a32 } from '../fnv1a.js';

const PREFIX = 'wal2nats';
const MAX_BYTES = 63;

export interface SlotHolder {
  readonly host: string;
  readonly pid: number;
  /** Hash of the publication. */
  readonly publication: string;
  /** Hash of every option that changes which subjects get which messages. */
  readonly subjects: string;
}

/** What the fingerprint covers: the options that decide what is published and where. */
export interface PublishingOptions {
  readonly publication: string;
  readonly subjectPrefix: string;
  /** The resolved `<database>` token (the option, or the database's own name). */
  readonly databaseName: string;
  readonly messageKind: string;
  readonly tables: readonly string[];
  readonly excludeTables: readonly string[];
  readonly actions: readonly string[];
  readonly jetstream: boolean;
}

export function fnv1aHex(text: string): string {
  return fnv1a32(text).toString(16).padStart(8, '0');
}

export function holderFingerprint(options: PublishingOptions): Pick<SlotHolder, 'publication' | 'subjects'> {
  // JSON keeps list boundaries apart ("a,b" + "c" differs from "a" + "b,c").
  const subjects = JSON.stringify([
    options.subjectPrefix,
    options.databaseName,
    options.messageKind,
    options.tables,
    options.excludeTables,
    options.actions,
    options.jetstream,
  ]);
  return { publication: fnv1aHex(options.publication), subjects: fnv1aHex(subjects) };
}

export function holderName(holder: SlotHolder): string {
  const tail = ` ${holder.pid} ${holder.publication}-${holder.subjects}`;
  // Printable ASCII without spaces, cut so that the whole name fits.
  const host = (holder.host.replace(/[^\x21-\x7e]/g, '_') || 'host').slice(
    0,
    MAX_BYTES - PREFIX.length - 1 - tail.length,
  );
  return `${PREFIX} ${host}${tail}`;
}

/** The holder a name describes, or null when the name is not one of ours (a foreign consumer). */
export function parseHolderName(name: string | null | undefined): SlotHolder | null {
  const match = /^wal2nats (\S+) (\d+) ([0-9a-f]{8})-([0-9a-f]{8})$/.exec(name ?? '');
  if (!match) return null;
  return { host: match[1]!, pid: Number(match[2]), publication: match[3]!, subjects: match[4]! };
}

/** Why a standby may not wait for this holder (it publishes something else), or null when it may. */
export function holderMismatch(ours: SlotHolder, theirs: SlotHolder): 'publication' | 'subjects' | null {
  if (ours.publication !== theirs.publication) return 'publication';
  if (ours.subjects !== theirs.subjects) return 'subjects';
  return null;
}
