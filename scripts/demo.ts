// `pnpm demo [-- --seconds N]`: wal2nats end to end on throwaway servers. Starts Postgres and
// NATS, creates a small shop database, runs the CLI against them, writes a steady mix of
// changes and prints every message that arrives on `sequin.>`, until Ctrl-C (or N seconds).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { onProcessExit } from '../test/harness/cleanup.js';
import { freePort, startNats, startPostgres, waitFor } from '../test/harness/index.js';
import type { NatsServer, PgServer } from '../test/harness/index.js';
import { SCHEMA_SQL, runLoad } from './demo-load.js';
import type { LoadStats } from './demo-load.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const USAGE = `usage: pnpm demo [-- --seconds N] [--cli PATH]
  --seconds N   stop after N seconds of streaming (default: run until Ctrl-C)
  --cli PATH    the wal2nats entry point (default: packages/cli/dist/main.js)`;

const log = (line: string) => process.stderr.write(`[demo] ${line}\n`);

function parseOptions(): { seconds: number | undefined; cli: string } {
  // pnpm may pass the `--` separator through; it means nothing here.
  const args = process.argv.slice(2).filter((a) => a !== '--');
  const { values } = parseArgs({
    args,
    options: { seconds: { type: 'string' }, cli: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
  if (seconds !== undefined && !(seconds > 0))
    throw new Error(`--seconds must be a positive number\n${USAGE}`);
  return { seconds, cli: values.cli ?? `${ROOT}packages/cli/dist/main.js` };
}

/** One line per message: subject, action, record, cut to the terminal's width. */
function printMessage(subject: string, text: string): void {
  let action = '?';
  let record = text;
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === 'object' && body !== null) {
      if ('action' in body && typeof body.action === 'string') action = body.action;
      if ('record' in body) record = JSON.stringify(body.record);
    }
  } catch {
    // Not JSON: show it raw.
  }
  const line = `${subject}  ${action}  ${record}`;
  const width = process.stdout.columns || 160;
  console.log(line.length > width ? `${line.slice(0, width - 1)}…` : line);
}

/** Runs the CLI with its output prefixed; resolves `closed` with its exit code when it ends. */
function spawnCli(
  cliPath: string,
  args: string[],
): { child: ChildProcess; closed: Promise<number | string> } {
  // Detached: a Ctrl-C reaches only us, and we stop wal2nats first, then the servers.
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const removeHook = onProcessExit(() => child.kill('SIGKILL'));
  for (const stream of [child.stdout, child.stderr]) {
    if (stream)
      createInterface({ input: stream }).on('line', (l) => process.stderr.write(`[wal2nats] ${l}\n`));
  }
  const closed = new Promise<number | string>((resolve) => {
    child.once('error', (err) => resolve(err.message));
    child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  }).finally(removeHook);
  return { child, closed };
}

async function stopCli(child: ChildProcess, closed: Promise<number | string>): Promise<number | string> {
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 15_000)));
  const result = await Promise.race([closed, late]);
  clearTimeout(timer);
  if (result !== 'late') return result;
  log('wal2nats did not stop within 15 s of SIGTERM; killing it');
  child.kill('SIGKILL');
  return closed;
}

async function demo(
  pg: PgServer,
  nats: NatsServer,
  stop: AbortController,
  seconds: number | undefined,
  cliPath: string,
) {
  const shopUrl = await pg.createDatabase('shop');
  const db = await pg.connect('shop');
  await db.query(SCHEMA_SQL);
  const httpPort = await freePort();

  const nc = await nats.connect();
  let received = 0;
  nc.subscribe('sequin.>', {
    callback: (err, msg) => {
      if (err) {
        log(`subscription error: ${err.message}`);
        return;
      }
      received += 1;
      printMessage(msg.subject, msg.string());
    },
  });
  await nc.flush();

  console.log(`
wal2nats demo
  Postgres  ${shopUrl}
  NATS      ${nats.url}   (subscribed to sequin.>)
  metrics   http://127.0.0.1:${httpPort}/metrics
  console   http://127.0.0.1:${httpPort}/
${seconds ? `Running for ${seconds} s` : 'Press Ctrl-C to stop'}.
`);

  const cli = spawnCli(cliPath, [
    'run',
    '--postgres-url',
    shopUrl,
    '--nats-url',
    nats.url,
    '--http-port',
    String(httpPort),
  ]);
  let cliExit: number | string | undefined;
  void cli.closed.then((code) => {
    cliExit = code;
    if (!stop.signal.aborted) {
      log(`wal2nats exited on its own (${code})`);
      stop.abort();
    }
  });

  let failed = false;
  let stats: LoadStats = { transactions: 0, rows: 0 };
  try {
    // Changes made before the slot exists are not streamed: write only once wal2nats streams.
    const state = await waitFor(
      async () => {
        if (stop.signal.aborted) return 'stopped';
        const slot = await pg.query<{ active: boolean }>(
          `SELECT active FROM pg_replication_slots WHERE slot_name = 'wal2nats'`,
        );
        return slot.rows[0]?.active ? 'streaming' : undefined;
      },
      { what: "wal2nats to stream from its slot 'wal2nats'", timeoutMs: 60_000, intervalMs: 200 },
    );
    if (state === 'streaming') {
      log('wal2nats is streaming; writing orders and items');
      if (seconds) setTimeout(() => stop.abort(), seconds * 1000).unref();
      stats = await runLoad(db, stop.signal);
    }
  } catch (err) {
    failed = true;
    log(`error: ${err instanceof Error ? err.message : String(err)}`);
  }

  log('stopping wal2nats (SIGTERM)');
  const code = cliExit ?? (await stopCli(cli.child, cli.closed));
  if (code !== 0) failed = true;
  await nc.flush(); // take in what wal2nats published before it stopped
  await nc.close();
  await db.end();
  log(
    `wrote ${stats.rows} rows in ${stats.transactions} transactions; received ${received} messages; wal2nats exited with ${code}`,
  );
  return failed ? 1 : 0;
}

async function main(): Promise<number> {
  const { seconds, cli } = parseOptions();
  if (!existsSync(cli)) {
    log(`${cli} is missing: build the CLI first (pnpm build)`);
    return 1;
  }

  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) {
      log('second interrupt: exiting now');
      process.exit(130); // the exit hooks kill wal2nats and the servers
    }
    log('stopping (Ctrl-C again to force)');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  log('starting Postgres and NATS');
  const [pg, nats] = await Promise.all([startPostgres(), startNats()]);
  try {
    return await demo(pg, nats, stop, seconds, cli);
  } finally {
    log('removing the servers');
    await Promise.all([pg.dispose(), nats.dispose()]);
  }
}

main().then(
  (code) => process.exit(code), // explicit: a stray handle must not keep the demo alive
  (err: unknown) => {
    log(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
