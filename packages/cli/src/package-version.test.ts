import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { packageVersion } from './package-version.js';

describe('packageVersion', () => {
  it('is the version of packages/cli/package.json in the checkout', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.equal(packageVersion(), manifest.version);
  });

  it('skips package.json files of other names on the way up (a bundle inside an installed package)', () => {
    const root = mkdtempSync(join(tmpdir(), 'wal2nats-version-'));
    try {
      mkdirSync(join(root, 'bundle', 'threads'), { recursive: true });
      writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'wal2nats', version: '9.8.7' }));
      writeFileSync(
        join(root, 'bundle', 'package.json'),
        JSON.stringify({ name: 'something-else', version: '1.0.0' }),
      );
      writeFileSync(join(root, 'bundle', 'threads', 'package.json'), '{ not json');
      assert.equal(
        packageVersion(pathToFileURL(join(root, 'bundle', 'threads', 'wal2nats.js')).href),
        '9.8.7',
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('says so when there is no wal2nats package.json above', () => {
    assert.throws(
      () => packageVersion(pathToFileURL(join(tmpdir(), 'nowhere', 'x.js')).href),
      /no package\.json named wal2nats/,
    );
  });
});
