/**
 * The import rules of the workspace (docs/architecture.md, "Import rules"), checked by
 * `pnpm lint:deps` in scripts/test.sh. Arrows run one way: types → core → runtime → cli, and
 * inside runtime from the composition root (pipeline.ts) down to the stages, never back.
 *
 * Paths are matched after resolution: an import of `@wal2nats/core` resolves through the
 * workspace link to `packages/core/...`.
 */
const RUNTIME = '^packages/runtime/src/';

/** Modules that do I/O or hold a client of a server: core must stay pure logic. */
const IO_PACKAGES = '(pg|pg-[^/]+|nats|@nats-io/[^/]+|prom-client|comlink|yaml)';
/** Resolved into node_modules, or left unresolved (core does not list them: pnpm cannot resolve them from it). */
const IO_NPM = [`node_modules/${IO_PACKAGES}/`, `^${IO_PACKAGES}(/|$)`];
const IO_NODE =
  '^(node:)?(net|tls|dns|dgram|http|https|http2|fs|fs/promises|child_process|cluster|worker_threads)$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'An import cycle means two modules cannot be understood, tested or moved apart. Move what both need into a module of its own.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      severity: 'error',
      comment:
        'Folders are the stages of the pipeline: when source/ imports backfill/ and backfill/ imports source/, neither stage stands on its own. Move what both need into a folder of its own (postgres/, async/).',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment:
        'An import that does not resolve is a package missing from this package.json (pnpm resolves only what a package lists), or a typo.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'types-imports-nothing',
      severity: 'error',
      comment: '@wal2nats/types is published for consumers and must have no dependencies.',
      from: { path: '^packages/types/src/' },
      to: { path: '^packages/(core|runtime|cli)/|node_modules' },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment:
        'core is pure logic: it imports neither runtime nor cli, nor any client or I/O module (pg, NATS, sockets, files, threads).',
      from: { path: '^packages/core/src/' },
      to: {
        path: ['^packages/(runtime|cli)/', '^@wal2nats/(runtime|cli)$', ...IO_NPM, IO_NODE],
      },
    },
    {
      name: 'runtime-not-cli',
      severity: 'error',
      comment: 'cli is the only composition root; runtime never imports it.',
      from: { path: '^packages/runtime/' },
      to: { path: ['^packages/cli/', '^@wal2nats/cli$'] },
    },
    {
      name: 'shard-and-sink-not-source',
      severity: 'error',
      comment:
        'Changes flow source → shard → sink. What a shard or a sink shares with the source (Postgres client config, error mapping) lives in runtime/src/postgres/.',
      from: { path: `${RUNTIME}(shard|sink)/` },
      to: { path: `${RUNTIME}source/` },
    },
    {
      name: 'backfill-not-source',
      severity: 'error',
      comment:
        'The reader (source/) drives the backfill; the backfill takes what it shares with the source from runtime/src/postgres/.',
      from: { path: `${RUNTIME}backfill/` },
      to: { path: `${RUNTIME}source/` },
    },
    {
      name: 'http-only-from-the-composition-root',
      severity: 'error',
      comment:
        'The HTTP server is wired in by pipeline.ts; the pipeline stages do not know it exists. Shared helpers (withTimeout) live in runtime/src/async/.',
      from: {
        path: RUNTIME,
        pathNot: [`^packages/runtime/src/(pipeline|index)\\.ts$`, `${RUNTIME}(http|console)/`],
      },
      to: { path: `${RUNTIME}http/` },
    },
    {
      name: 'shared-layers-import-no-stage',
      severity: 'error',
      comment: 'postgres/, async/ and log/ are used by every stage, so they import none.',
      from: { path: `${RUNTIME}(postgres|async|log)/` },
      to: {
        path: `${RUNTIME}(source|shard|sink|backfill|snapshot|ha|http|metrics|threads|console)/|^packages/runtime/src/(pipeline|index)\\.ts$`,
      },
    },
  ],
  options: {
    // The workspace packages resolve to their built dist/ through their exports: seen as a
    // dependency, not followed (each package's sources are cruised themselves).
    doNotFollow: { path: ['node_modules', '(^|/)dist/'] },
    // Rules are about the product's modules: a test may reach across layers to drive one.
    exclude: { path: '\\.(test|bench)\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.unit-tests.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
