/**
 * One database streamed by one running `wal2nats run`, for tests that check many kinds of
 * change: each test writes to its own tables and waits for that table's messages only.
 *
 *   const s = await StreamFixture.start(pg, nats, nc, { database: 'values', setupSql: '…' });
 *   const listener = await s.listen('public.t');   // subscribed before writing
 *   await s.sql('INSERT …');
 *   const [a, b, c] = await listener.take(3);      // envelopes, raw bodies and subjects
 *   listener.close();
 */
import assert from 'node:assert/strict';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Client, QueryResult, QueryResultRow } from 'pg';
import type { NatsServer, PgServer } from '../harness/index.js';
import { bodyProblem } from '../harness/message-schema.js';
import type { Envelope } from './envelope.js';
import { useServers, type TestServers, type UseServersOptions } from './servers.js';
import { runArgs, Wal2NatsProcess } from './wal2nats-process.js';

export interface ReceivedMessage {
  readonly subject: string;
  /** The body as sent: checks that JSON.parse would blur (every digit of an int8) use it. */
  readonly raw: string;
  readonly body: Envelope;
  readonly msgId: string | undefined;
}

export interface StreamFixtureOptions {
  readonly database: string;
  /** Run before wal2nats starts (tables that exist at start). */
  readonly setupSql?: string;
  /** More `wal2nats run` options. */
  readonly args?: readonly string[];
  /** Default `sequin`. */
  readonly subjectPrefix?: string;
  /** `changes` (default) or `rows`: which subjects `expect` listens on. */
  readonly subjects?: 'changes' | 'rows';
}

/** A subject token as wal2nats escapes it (docs/contract.md "Subjects"), for plain test names. */
function token(name: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`use plain names in tests: ${name}`);
  return name;
}

export class StreamFixture {
  private constructor(
    readonly w2n: Wal2NatsProcess,
    private readonly client: Client,
    private readonly nc: NatsConnection,
    private readonly prefix: string,
    private readonly kind: 'changes' | 'rows',
    readonly database: string,
  ) {}

  static async start(
    pg: PgServer,
    nats: NatsServer,
    nc: NatsConnection,
    options: StreamFixtureOptions,
  ): Promise<StreamFixture> {
    const url = await pg.createDatabase(options.database);
    const client = await pg.connect(options.database);
    if (options.setupSql) await client.query(options.setupSql);
    const prefix = options.subjectPrefix ?? 'sequin';
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: nats.url,
        extra: ['--slot', options.database, '--subject-prefix', prefix, ...(options.args ?? [])],
      }),
    );
    try {
      await w2n.streaming();
    } catch (error) {
      w2n.kill();
      await client.end();
      throw error;
    }
    return new StreamFixture(w2n, client, nc, prefix, options.subjects ?? 'changes', options.database);
  }

  /** Runs SQL on the fixture's own connection (so BEGIN … COMMIT across calls works). */
  sql<R extends QueryResultRow = QueryResultRow>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    return this.client.query<R>(text, params);
  }

  /** The subject filter of one table (`schema.table`), or of the whole database. */
  subjectOf(table?: string): string {
    const base = `${this.prefix}.${this.kind}.${token(this.database)}`;
    if (table === undefined) return `${base}.>`;
    const [schema, name] = table.split('.') as [string, string];
    return this.kind === 'rows'
      ? `${base}.${token(schema)}.${token(name)}`
      : `${base}.${token(schema)}.${token(name)}.>`;
  }

  /**
   * Subscribes to a table's subjects (or the whole database's) and waits until the server has
   * the subscription: call it before writing. Then `take(n)` resolves with the first n messages.
   * To check that nothing more came, write a sentinel change after and take it as message n+1:
   * a table's messages arrive in commit order.
   */
  async listen(table?: string): Promise<Listener> {
    return this.listenTo(this.subjectOf(table));
  }

  /** Like listen(), on any subject filter (e.g. one with an escaped name). */
  async listenTo(subjectFilter: string): Promise<Listener> {
    const listener = new Listener(this.nc, subjectFilter, subjectFilter, () => this.w2n.tail());
    await this.nc.flush();
    return listener;
  }

  /** Stops wal2nats (SIGTERM, exit 0 expected) and closes the SQL connection. */
  async stop(): Promise<number | null> {
    try {
      return await this.w2n.stop();
    } finally {
      this.w2n.kill();
      await this.client.end().catch(() => {});
    }
  }

  /** Warnings and errors wal2nats logged so far. */
  problems(): string[] {
    return this.w2n.lines
      .filter((l) => l.level === 'warn' || l.level === 'error')
      .map((l) => JSON.stringify(l));
  }
}

/** The messages of one subject filter, in arrival order. */
export class Listener {
  readonly messages: ReceivedMessage[] = [];
  private readonly sub: Subscription;
  private waiter: { count: number; resolve: () => void; reject: (error: Error) => void } | null = null;
  /** Set by the first message that breaks the contract (harness/message-schema.ts). */
  private broken: Error | null = null;

  constructor(
    nc: NatsConnection,
    readonly subject: string,
    private readonly what: string,
    private readonly tail: () => string,
  ) {
    this.sub = nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error) return;
        const raw = msg.string();
        const body = JSON.parse(raw) as Envelope;
        const msgId = msg.headers?.get('Nats-Msg-Id');
        this.messages.push({ subject: msg.subject, raw, body, msgId });
        const problem = bodyProblem(msg.subject, body, msgId || undefined);
        if (problem !== null)
          this.broken ??= new Error(`a message of ${this.what} breaks the contract: ${problem}`);
        if (this.broken) this.waiter?.reject(this.broken);
        else if (this.waiter && this.messages.length >= this.waiter.count) this.waiter.resolve();
      },
    });
  }

  /** The first `count` messages, once they arrived; rejects after `timeoutMs`, or once a message breaks the contract. */
  take(count: number, timeoutMs = 30_000): Promise<ReceivedMessage[]> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.messages.length >= count) return Promise.resolve(this.messages.slice(0, count));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        const got = this.messages.map((m) => m.raw.slice(0, 300)).join('\n');
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${count} messages of ${this.what}; ${this.messages.length} arrived:\n${got}\nwal2nats:\n${this.tail()}`,
          ),
        );
      }, timeoutMs);
      this.waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          this.waiter = null;
          resolve(this.messages.slice(0, count));
        },
        reject: (error) => {
          clearTimeout(timer);
          this.waiter = null;
          reject(error);
        },
      };
    });
  }

  close(): void {
    this.sub.unsubscribe();
  }
}

/**
 * The servers of a test file and one StreamFixture on them, started before its tests; after
 * them wal2nats must stop with exit code 0, then the servers go.
 */
export function useStreamFixture(
  options: StreamFixtureOptions & Pick<UseServersOptions, 'postgres' | 'nats'>,
): { readonly servers: TestServers; readonly stream: StreamFixture } {
  let stream: StreamFixture | undefined;
  const servers = useServers({
    ...options,
    afterStart: async ({ pg, nats, nc }) => {
      stream = await StreamFixture.start(pg, nats, nc, options);
    },
    beforeStop: async () => {
      if (stream) assert.equal(await stream.stop(), 0, 'wal2nats stopped cleanly');
    },
  });
  return {
    servers,
    get stream() {
      if (!stream) throw new Error('the stream fixture is not started: use it inside a test, after before()');
      return stream;
    },
  };
}
