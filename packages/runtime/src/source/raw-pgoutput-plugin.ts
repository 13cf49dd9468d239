/**
 * A pg-logical-replication output plugin that starts pgoutput and hands over each message's raw
 * bytes unparsed: the reader only routes them, the shard workers decode them. (The library's
 * PgoutputPlugin parses every message on the reader thread into objects that cannot cross a
 * thread boundary: docs/pitfalls.md "Not cloneable".)
 */
import type { Buffer } from 'node:buffer';
import type { Client } from 'pg';
import { quoteIdent, quoteLiteral } from '@wal2nats/core';

export interface RawPgoutputOptions {
  readonly publicationName: string;
  /** Ask for `pg_logical_emit_message` messages (Postgres 14+): annotations and heartbeats. */
  readonly messages: boolean;
}

/** Structurally an AbstractPlugin (which the package does not export from its root). */
export class RawPgoutputPlugin {
  constructor(readonly options: RawPgoutputOptions) {}

  get name(): string {
    return 'pgoutput';
  }

  start(client: Client, slotName: string, lastLsn: string): Promise<unknown> {
    const options = [
      `proto_version '1'`,
      `publication_names ${quoteLiteral(quoteIdent(this.options.publicationName))}`,
    ];
    if (this.options.messages) options.push(`messages 'true'`);
    return client.query(`START_REPLICATION SLOT "${slotName}" LOGICAL ${lastLsn} (${options.join(', ')})`);
  }

  parse(buffer: Buffer): Buffer {
    return buffer;
  }
}
