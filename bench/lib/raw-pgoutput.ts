/**
 * The bench's bare pgoutput readers' plugin for pg-logical-replication (lib/postgres-ceiling.ts,
 * lib/postgres-latency-probe.ts): starts pgoutput on the bench's publication and hands each
 * message over unparsed (like wal2nats's RawPgoutputPlugin; structurally an AbstractPlugin of
 * pg-logical-replication, which does not export the type — pass it `as never`).
 */
import type { Client } from 'pg';
import { PUBLICATION } from './layout.js';

export class RawPlugin {
  readonly name = 'pgoutput';
  start(client: Client, slotName: string, lastLsn: string): Promise<unknown> {
    return client.query(
      `START_REPLICATION SLOT "${slotName}" LOGICAL ${lastLsn} (proto_version '1', publication_names '${PUBLICATION}')`,
    );
  }
  parse(buffer: Buffer): Buffer {
    return buffer;
  }
}

/** pgoutput message types (the first byte of each message). */
export const BEGIN = 0x42; // 'B'
export const COMMIT = 0x43; // 'C'
/** The ones that carry one row change. */
export const INSERT = 0x49; // 'I'
export const UPDATE = 0x55; // 'U'
export const DELETE = 0x44; // 'D'
