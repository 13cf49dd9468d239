/**
 * A TCP proxy in front of a real Postgres that can end its replication sessions with an error
 * of our choosing, as the walsender itself would: an ErrorResponse (with a SQLSTATE) at a
 * message boundary, then the connection closes.
 *
 * Why: some errors the walsender can raise are not reproducible on demand. A deadlock (40P01)
 * during decoding needs catalog locks taken in the wrong order at the wrong instant
 * (contrib/test_decoding's rewrite.sql hit it while reindexing pg_class); a test that waited for
 * one would be flaky. Everything else here is real: the server, the replication protocol, the
 * client library's handling of an ErrorResponse during COPY BOTH.
 *
 * Wire format: https://www.postgresql.org/docs/current/protocol-message-formats.html (after the
 * start-up packet, every server message is a type byte and an int32 length that counts itself).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

interface Session {
  readonly client: Socket;
  readonly server: Socket;
  replication: boolean;
}

export class PgFaultProxy {
  private readonly sessions = new Set<Session>();
  private server: Server | null = null;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async listen(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no proxy address');
    this.port = address.port;
  }

  /** Replication sessions open now (connections whose start-up packet asked for replication). */
  get replicationSessions(): number {
    return [...this.sessions].filter((s) => s.replication).length;
  }

  /**
   * Ends every open replication session with an ErrorResponse carrying `sqlstate`, written at a
   * message boundary (server bytes of an unfinished message are dropped), then closes it.
   * Returns how many sessions it ended.
   */
  failReplication(sqlstate: string, message: string): number {
    let ended = 0;
    for (const session of this.sessions) {
      if (!session.replication) continue;
      session.server.destroy();
      session.client.end(errorResponse(sqlstate, message));
      this.sessions.delete(session);
      ended++;
    }
    return ended;
  }

  async close(): Promise<void> {
    for (const s of this.sessions) {
      s.client.destroy();
      s.server.destroy();
    }
    this.sessions.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    const server = createConnection(this.target);
    const session: Session = { client, server, replication: false };
    this.sessions.add(session);
    const drop = (): void => {
      this.sessions.delete(session);
      client.destroy();
      server.destroy();
    };
    client.on('error', drop).on('close', drop);
    server.on('error', drop).on('close', drop);

    // Client → server: look at the start-up packet once, then pass everything through.
    let startup = Buffer.alloc(0);
    let startupSeen = false;
    client.on('data', (chunk: Buffer) => {
      if (!startupSeen) {
        startup = Buffer.concat([startup, chunk]);
        if (startup.length >= 4 && startup.length >= startup.readInt32BE(0)) {
          startupSeen = true;
          const code = startup.readInt32BE(4);
          // SSL would hide the messages: the tests' URLs do not ask for it.
          if (code === 80877103) {
            drop();
            return;
          }
          // Parameters are NUL-terminated name/value pairs: replication=database marks a walsender.
          const params = startup.subarray(8, startup.readInt32BE(0)).toString('utf8').split('\0');
          for (let i = 0; i + 1 < params.length; i += 2)
            if (params[i] === 'replication' && params[i + 1] !== 'false') session.replication = true;
        }
      }
      server.write(chunk);
    });

    // Server → client: only whole messages, so that an injected error lands on a boundary.
    let pending = Buffer.alloc(0);
    server.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let whole = 0;
      while (pending.length - whole >= 5) {
        const length = pending.readInt32BE(whole + 1);
        if (pending.length - whole < 1 + length) break;
        whole += 1 + length;
      }
      if (whole === 0) return;
      client.write(pending.subarray(0, whole));
      pending = pending.subarray(whole);
    });
  }
}

/** An ErrorResponse ('E') as a server sends it: severity, SQLSTATE, message. */
function errorResponse(sqlstate: string, message: string): Buffer {
  const fields = Buffer.concat([
    Buffer.from(`SERROR\0VERROR\0C${sqlstate}\0M${message}\0`, 'utf8'),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head[0] = 0x45; // E
  head.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([head, fields]);
}
