/**
 * Bundles the `wal2nats` package for npm (run by `prepack`, after `pnpm build`): the CLI and the
 * worker thread entries, with the workspace packages (@wal2nats/core, runtime, types) inlined and
 * every npm dependency left as an import that npm installs. docs/architecture.md ("Packaging")
 * says why this and not publishing the workspace packages.
 *
 * The runtime finds files relative to its own modules: workers from `new URL(<path>,
 * import.meta.url)` in its one registry of entry files (runtime/src/threads/worker-entries.ts),
 * the console's scripts in dist/console (runtime/src/http/console-assets.ts). So `bundle/` is
 * laid out like the runtime package: each worker entry at its path under dist/, the CLI and the
 * chunks shared by the entries in the registry's directory, and the console's scripts copied to
 * dist/console, so that every such relative path holds as it is.
 *
 *   bundle/wal2nats.js                      the `bin` (imports the CLI)
 *   bundle/dist/threads/wal2nats.js         the CLI (threads/: the registry's directory)
 *   bundle/dist/threads/chunk-*.js          code shared by the entries
 *   bundle/dist/source/reader-thread.js     worker entries, as WorkerEntry names them
 *   bundle/dist/shard/shard-worker.js
 *   bundle/dist/console/*.js                the console's browser scripts, as built
 */
import { build } from 'esbuild';
import { chmodSync, cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cliDir = fileURLToPath(new URL('..', import.meta.url));
const runtimeRoot = fileURLToPath(new URL('../../runtime/', import.meta.url));
const runtimeDist = join(runtimeRoot, 'dist');
const registryFile = join(runtimeDist, 'threads', 'worker-entries.js');
/** The console's scripts, read at run time (not imported): copied as they are. */
const consoleDir = join(runtimeDist, 'console');
const outdir = join(cliDir, 'bundle');

const manifest = JSON.parse(readFileSync(join(cliDir, 'package.json'), 'utf8'));
const dependencies = Object.keys(manifest.dependencies ?? {});

let registry;
try {
  registry = await import(pathToFileURL(registryFile).href);
} catch (error) {
  throw new Error(`cannot load the worker registry ${registryFile} (run pnpm build first): ${error.message}`);
}
const workerEntries = Object.entries(registry.WorkerEntry ?? {});
if (workerEntries.length === 0)
  throw new Error(`${registryFile} exports no WorkerEntry: the bundle would have no worker threads`);

/** A path in the runtime package as an esbuild output name (no extension, forward slashes). */
const outName = (path) => relative(runtimeRoot, path).replace(/\.js$/, '').split(sep).join('/');
const registryDir = relative(runtimeRoot, dirname(registryFile)).split(sep).join('/');

const entryPoints = [
  { in: join(cliDir, 'dist', 'main.js'), out: `${registryDir}/wal2nats` },
  ...workerEntries.map(([, url]) => {
    const path = fileURLToPath(url);
    if (!path.startsWith(runtimeDist)) throw new Error(`worker entry ${path} is outside ${runtimeDist}`);
    return { in: path, out: outName(path) };
  }),
];

if (!existsSync(join(consoleDir, 'console.js')))
  throw new Error(`the console's scripts are missing from ${consoleDir}: run pnpm build first`);
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints,
  outdir,
  bundle: true,
  splitting: true,
  chunkNames: `${registryDir}/chunk-[hash]`,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Readable stack traces for operators, and class names as in the source (errors print them).
  minify: false,
  keepNames: true,
  external: dependencies.flatMap((name) => [name, `${name}/*`]),
  metafile: true,
  logLevel: 'warning',
});

// Every npm package the bundle imports must be a dependency of the package, and nothing from
// node_modules may be inlined by accident (it would ship without its licence and its updates).
const inlined = Object.keys(result.metafile.inputs).filter((path) => path.includes('node_modules'));
if (inlined.length > 0)
  throw new Error(
    `the bundle inlines files from node_modules; add their packages to dependencies:\n  ${inlined.join('\n  ')}`,
  );
const imported = new Set();
for (const output of Object.values(result.metafile.outputs)) {
  for (const { path, external } of output.imports)
    if (external && !path.startsWith('node:')) imported.add(path);
}
const undeclared = [...imported].filter(
  (path) => !dependencies.some((name) => path === name || path.startsWith(`${name}/`)),
);
if (undeclared.length > 0)
  throw new Error(
    `the bundle imports packages that are not dependencies of ${manifest.name}: ${undeclared.join(', ')}`,
  );

cpSync(consoleDir, join(outdir, relative(runtimeRoot, consoleDir)), {
  recursive: true,
  filter: (path) => !/\.(map|tsbuildinfo)$|\.d\.ts$/.test(path),
});

const bin = join(outdir, 'wal2nats.js');
writeFileSync(bin, `#!/usr/bin/env node\nimport './${registryDir}/wal2nats.js';\n`);
chmodSync(bin, 0o755);
const files = Object.keys(result.metafile.outputs).map((path) => relative(outdir, path));
console.log(
  `bundled ${manifest.name} ${manifest.version}: ${files.length + 1} files in ${relative(process.cwd(), outdir) || '.'}`,
);
