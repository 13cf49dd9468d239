/**
 * A steady write load for the chaos suite: transactions over several tables, each change
 * recorded as the key it must arrive with, so that the stream can be checked afterwards for
 * every change present, none twice. It can be paused around a Postgres restart, so that no
 * commit is left in doubt.
 */
import type { PgServer } from '../harness/index.js';
import type { Client } from 'pg';
export { seededRandom } from './random.js';

export class ChaosWriter {
  /** `table:action:id:n` of every committed change, in commit order. */
  readonly committed: string[] = [];
  private readonly nextId = new Map<string, number>();
  private readonly liveRows = new Map<string, number[]>();
  private running = false;
  private paused = false;
  private loop: Promise<void> = Promise.resolve();
  private resumeWaiter: (() => void) | null = null;
  private pausedAck: (() => void) | null = null;
  transactions = 0;

  constructor(
    private readonly pg: PgServer,
    private readonly database: string,
    private readonly tables: readonly string[],
    private readonly random: () => number,
    /** At most this many transactions per second (default: as fast as one client can). */
    private readonly maxTransactionsPerSecond = Number.POSITIVE_INFINITY,
  ) {
    for (const t of tables) {
      this.nextId.set(t, 1);
      this.liveRows.set(t, []);
    }
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Resolves once no transaction is open. */
  pause(): Promise<void> {
    this.paused = true;
    return new Promise((resolve) => {
      this.pausedAck = resolve;
    });
  }

  resume(): void {
    this.paused = false;
    this.resumeWaiter?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.resume();
    await this.loop;
  }

  private async run(): Promise<void> {
    let client: Client = await this.pg.connect(this.database);
    try {
      while (this.running) {
        if (this.paused) {
          await client.end().catch(() => {});
          this.pausedAck?.();
          await new Promise<void>((resolve) => {
            this.resumeWaiter = resolve;
          });
          if (!this.running) return;
          client = await this.pg.connect(this.database);
          continue;
        }
        const started = performance.now();
        await this.oneTransaction(client);
        this.transactions++;
        // Let other work (the chaos steps, the test's reads) interleave; hold the rate if asked.
        const rest = 1000 / this.maxTransactionsPerSecond - (performance.now() - started);
        await new Promise((resolve) => (rest >= 1 ? setTimeout(resolve, rest) : setImmediate(resolve)));
      }
    } finally {
      await client.end().catch(() => {});
    }
  }

  private async oneTransaction(client: Client): Promise<void> {
    const changes: string[] = [];
    const statements: string[] = [];
    const count = 1 + Math.floor(this.random() * 3);
    for (let k = 0; k < count; k++) {
      const table = this.tables[Math.floor(this.random() * this.tables.length)]!;
      const live = this.liveRows.get(table)!;
      const roll = this.random();
      if (roll < 0.6 || live.length === 0) {
        const id = this.nextId.get(table)!;
        this.nextId.set(table, id + 1);
        statements.push(`INSERT INTO ${table} (id, n) VALUES (${id}, 0)`);
        changes.push(`${table}:insert:${id}:0`);
        live.push(id);
      } else if (roll < 0.9) {
        const id = live[Math.floor(this.random() * live.length)]!;
        const n = Math.floor(this.random() * 1e9);
        statements.push(`UPDATE ${table} SET n = ${n} WHERE id = ${id}`);
        changes.push(`${table}:update:${id}:${n}`);
      } else {
        const at = Math.floor(this.random() * live.length);
        const id = live[at]!;
        live.splice(at, 1);
        statements.push(`DELETE FROM ${table} WHERE id = ${id}`);
        changes.push(`${table}:delete:${id}:-`);
      }
    }
    // One round trip: the transaction either commits as a whole or not at all, and the writer
    // is never stopped in the middle of one (pause() waits for it).
    await client.query(`BEGIN; ${statements.join('; ')}; COMMIT;`);
    this.committed.push(...changes);
  }
}

/** The key a stored message must match, the same way ChaosWriter records it. */
export function changeKey(table: string, action: string, record: Record<string, unknown> | null): string {
  const id = record?.id;
  if (action === 'delete') return `${table}:delete:${String(id)}:-`;
  return `${table}:${action}:${String(id)}:${String(record?.n)}`;
}
