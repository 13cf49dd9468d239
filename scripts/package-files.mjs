/**
 * Run by `prepack` in a published package's directory: copies the repository's LICENSE, and
 * the files named as arguments (e.g. README.md), from the repository root into the package, so
 * that the tarball carries them while the repository keeps one copy (the copies are ignored by
 * git).
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const name of ['LICENSE', ...process.argv.slice(2)])
  copyFileSync(join(root, name), join(process.cwd(), name));
