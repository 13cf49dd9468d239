/**
 * wal2nats as users install it: the packages are packed (`pnpm pack`, as for publishing),
 * installed with npm into an empty directory (no workspace, no dev dependencies), and the
 * installed `wal2nats run` streams changes from this file's own Postgres to its own NATS (change
 * events, and record events from a second instance). A consumer script is then compiled against
 * the installed @wal2nats/types, with the messages that arrived written into it as typed
 * literals, and run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { collectMessages, waitFor } from './harness/index.js';
import { useServers } from './support/servers.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('..', import.meta.url));
/** The target of issue 17: the package itself, without its dependencies. */
const MAX_UNPACKED_BYTES = 5 * 1024 * 1024;

/** npm must not see pnpm's settings (workspace, store) that `pnpm test` puts in the environment. */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|pnpm_)/i.test(key)));
}

async function pack(packageDir: string, destination: string): Promise<string> {
  const { stdout } = await run('pnpm', ['pack', '--pack-destination', destination], {
    cwd: join(repo, packageDir),
    maxBuffer: 16 << 20,
    timeout: 120_000,
  });
  const tarball = stdout.trim().split('\n').pop()!.trim();
  assert.match(tarball, /\.tgz$/, `pnpm pack in ${packageDir} said:\n${stdout}`);
  return tarball;
}

/** Each file of a tarball with its size, from `tar -tvzf`. */
async function tarballFiles(tarball: string): Promise<{ path: string; size: number }[]> {
  const { stdout } = await run('tar', ['-tvzf', tarball], { maxBuffer: 16 << 20 });
  return stdout
    .trim()
    .split('\n')
    .map((line) => {
      const fields = line.trim().split(/\s+/);
      return { path: fields[fields.length - 1]!, size: Number(fields[2]) };
    });
}

describe('the packed packages, installed with npm', { timeout: 600_000 }, () => {
  const servers = useServers();
  let work: string;
  let app: string;
  let version: string;
  let wal2nats: string;
  let tarballs: string[];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'wal2nats-pack-'));
    app = join(work, 'app');
    mkdirSync(app);
    const cli = await pack('packages/cli', work);
    const types = await pack('packages/types', work);
    tarballs = [cli, types];
    version = (
      JSON.parse(readFileSync(join(repo, 'packages/cli/package.json'), 'utf8')) as { version: string }
    ).version;
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--omit=dev',
        '--loglevel=error',
        cli,
        types,
      ],
      {
        cwd: app,
        env: npmEnv(),
        maxBuffer: 16 << 20,
        timeout: 300_000,
      },
    );
    wal2nats = join(app, 'node_modules', '.bin', 'wal2nats');
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ship no tests or bench files, a LICENSE and a README, one version, and wal2nats under 5 MB unpacked', async () => {
    const typesManifest = JSON.parse(
      readFileSync(join(app, 'node_modules', '@wal2nats', 'types', 'package.json'), 'utf8'),
    ) as { version: string };
    assert.equal(typesManifest.version, version, '@wal2nats/types carries the version of wal2nats');
    for (const tarball of tarballs) {
      const files = await tarballFiles(tarball);
      const paths = files.map((f) => f.path);
      assert.deepEqual(
        paths.filter(
          (p) =>
            /(^|\/)(test|tests|bench|scripts|src)\/|\.test\.|\.bench\.|\.map$|\.ts$/.test(p) &&
            !p.endsWith('.d.ts'),
        ),
        [],
        tarball,
      );
      for (const required of ['package/package.json', 'package/LICENSE', 'package/README.md'])
        assert.ok(paths.includes(required), `${tarball} holds ${required}`);
      const unpacked = files.reduce((sum, f) => sum + f.size, 0);
      assert.ok(unpacked < MAX_UNPACKED_BYTES, `${tarball}: ${unpacked} bytes unpacked`);
    }
  });

  it('wal2nats --version prints the package version and --help the commands', async () => {
    assert.equal((await run(wal2nats, ['--version'])).stdout, `wal2nats ${version}\n`);
    const help = await run(wal2nats, ['--help']);
    assert.match(help.stdout, /wal2nats run \[options\]/);
    assert.match((await run(wal2nats, ['run', '--help'])).stdout, /--postgres-url/);
  });

  it('wal2nats run streams changes to NATS, and a consumer compiles against @wal2nats/types and reads them', async () => {
    const { pg, nats, nc } = servers;
    const url = await pg.createDatabase(
      'packed',
      `CREATE SCHEMA "Sales Team";
       CREATE TABLE "Sales Team"."order.items" (id bigint PRIMARY KEY, qty int, note text, tags text[], doc jsonb, at timestamptz);
       ALTER TABLE "Sales Team"."order.items" REPLICA IDENTITY FULL;
       INSERT INTO "Sales Team"."order.items" VALUES (1, 1, 'before the start', '{a,b}', '{"k": [1, null]}', '2024-10-28 21:37:01.12747+00');`,
    );
    const collector = collectMessages(nc, 'sequin.changes.packed.>');
    const rowsCollector = collectMessages(nc, 'sequin.rows.packed.>');
    await nc.flush();
    const w2n = new Wal2NatsProcess(
      runArgs({ postgresUrl: url, natsUrl: nats.url, extra: ['--initial-snapshot'] }),
      {},
      { script: wal2nats },
    );
    let records: Wal2NatsProcess | undefined;
    let messages;
    let rowMessages;
    try {
      await w2n.streaming();
      // A second instance on its own slot (started once the first has made the publication)
      // publishes the same changes as record events.
      records = new Wal2NatsProcess(
        runArgs({
          postgresUrl: url,
          natsUrl: nats.url,
          extra: ['--slot', 'packed_records', '--message-kind', 'records', '--shards', '1'],
        }),
        {},
        { script: wal2nats },
      );
      await records.streaming();
      const client = await pg.connect('packed');
      try {
        await client.query(
          `INSERT INTO "Sales Team"."order.items" VALUES (2, 5, 'new', '{}', 'null', now())`,
        );
        await client.query(`UPDATE "Sales Team"."order.items" SET qty = 6 WHERE id = 2`);
        await client.query(`DELETE FROM "Sales Team"."order.items" WHERE id = 1`);
        await client.query(`TRUNCATE "Sales Team"."order.items"`);
      } finally {
        await client.end();
      }
      messages = await collector.waitForCount(5, 60_000);
      rowMessages = await rowsCollector.waitForCount(4, 60_000);
      // The console's scripts are files read at run time: they must be in the package too.
      const http = await w2n.httpBase();
      const page = await fetch(`${http}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /src="\/console\/console\.js"/);
      const script = await fetch(`${http}/console/console.js`);
      assert.equal(script.status, 200, 'the console script is served from the installed package');
      assert.match(await script.text(), /import /);
      // Counted when NATS confirms, which may come a moment after the subscriber got it (a quiet
      // shard's cycles share a PING: sink/ping-linger.ts).
      await waitFor(
        async () =>
          /wal2nats_messages_published_total\{[^}]*action="truncate"[^}]*\} 1/.test(
            await (await fetch(`${http}/metrics`)).text(),
          ) || undefined,
        { what: 'the truncate counted in /metrics', timeoutMs: 10_000 },
      );
      assert.equal(await w2n.stop(), 0, `wal2nats stopped cleanly:\n${w2n.tail()}`);
      assert.equal(await records.stop(), 0, `wal2nats (records) stopped cleanly:\n${records.tail()}`);
    } finally {
      w2n.kill();
      records?.kill();
      collector.close();
      rowsCollector.close();
    }
    assert.deepEqual(
      messages.map((m) => m.subject),
      ['read', 'insert', 'update', 'delete', 'truncate'].map(
        (action) => `sequin.changes.packed.Sales%20Team.order%2Eitems.${action}`,
      ),
    );
    assert.deepEqual(
      rowMessages.map((m) => m.subject),
      Array(4).fill('sequin.rows.packed.Sales%20Team.order%2Eitems'),
    );

    // The messages as typed literals: a field the types do not know, or a value of the wrong
    // type, fails the compilation (`satisfies` checks excess properties too).
    const literals = (list: typeof messages) =>
      list
        .map((m) => `  { subject: ${JSON.stringify(m.subject)}, body: ${JSON.stringify(m.data)} },`)
        .join('\n');
    writeFileSync(
      join(app, 'consumer.mts'),
      `import { parseSubject, type ChangeEvent, type RecordEvent } from '@wal2nats/types';

const received = [
${literals(messages)}
] satisfies readonly { subject: string; body: ChangeEvent }[];

const receivedRows = [
${literals(rowMessages)}
] satisfies readonly { subject: string; body: RecordEvent }[];

for (const { subject, body } of received as readonly { subject: string; body: ChangeEvent }[]) {
  const parsed = parseSubject(subject, 'sequin');
  if (parsed === null || parsed.kind !== 'changes') throw new Error('not a change subject: ' + subject);
  const columns = body.action === 'update' ? Object.keys(body.changes) : body.action === 'truncate' ? [] : Object.keys(body.record);
  console.log(JSON.stringify({ table: parsed.schema + '/' + parsed.table, action: parsed.action, same: parsed.action === body.action, columns }));
}
for (const { subject, body } of receivedRows as readonly { subject: string; body: RecordEvent }[]) {
  const parsed = parseSubject(subject, 'sequin');
  if (parsed === null || parsed.kind !== 'rows') throw new Error('not a rows subject: ' + subject);
  console.log(JSON.stringify({ table: parsed.schema + '/' + parsed.table, deleted: body.metadata.deleted, id: body.record === null ? null : body.record['id'] ?? null }));
}
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          outDir: 'out',
          typeRoots: [join(repo, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['consumer.mts'],
      }),
    );
    const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', app], { cwd: app }).catch((error: { stdout?: string }) => {
      throw new Error(
        `the consumer does not compile against the installed @wal2nats/types:\n${error.stdout ?? String(error)}`,
      );
    });
    const { stdout } = await run(process.execPath, [join(app, 'out', 'consumer.mjs')], { cwd: app });
    assert.deepEqual(
      stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
      [
        {
          table: 'Sales Team/order.items',
          action: 'read',
          same: true,
          columns: ['id', 'qty', 'note', 'tags', 'doc', 'at'],
        },
        {
          table: 'Sales Team/order.items',
          action: 'insert',
          same: true,
          columns: ['id', 'qty', 'note', 'tags', 'doc', 'at'],
        },
        { table: 'Sales Team/order.items', action: 'update', same: true, columns: ['qty'] },
        {
          table: 'Sales Team/order.items',
          action: 'delete',
          same: true,
          columns: ['id', 'qty', 'note', 'tags', 'doc', 'at'],
        },
        { table: 'Sales Team/order.items', action: 'truncate', same: true, columns: [] },
        { table: 'Sales Team/order.items', deleted: false, id: 2 },
        { table: 'Sales Team/order.items', deleted: false, id: 2 },
        { table: 'Sales Team/order.items', deleted: true, id: 1 },
        { table: 'Sales Team/order.items', deleted: true, id: null },
      ],
    );
  });
});
