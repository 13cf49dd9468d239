/**
 * The version of the `wal2nats` package this code runs from, read from its package.json: from
 * the checkout (packages/cli/dist/…) and from an installed bundle (node_modules/wal2nats/bundle/…)
 * alike, so that `wal2nats --version` can never disagree with what npm installed.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_NAME = 'wal2nats';

/** The version in the nearest package.json named `wal2nats` above `moduleUrl`. */
export function packageVersion(moduleUrl: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    const manifest = readManifest(join(dir, 'package.json'));
    if (manifest?.name === PACKAGE_NAME && typeof manifest.version === 'string') return manifest.version;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`no package.json named ${PACKAGE_NAME} above ${fileURLToPath(moduleUrl)}`);
    dir = parent;
  }
}

function readManifest(path: string): { name?: unknown; version?: unknown } | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown; version?: unknown };
  } catch {
    return null;
  }
}
