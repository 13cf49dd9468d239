import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * A Postgres server binary (initdb, postgres, ...). Debian keeps them out of PATH, in
 * /usr/lib/postgresql/<major>/bin; take the newest major there, unless WAL2NATS_PG_BIN
 * names a directory.
 */
export function postgresBin(name: string): string {
  const dirs: string[] = [];
  if (process.env.WAL2NATS_PG_BIN) dirs.push(process.env.WAL2NATS_PG_BIN);
  try {
    const majors = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    dirs.push(...majors.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch {
    // Not a Debian layout: try PATH below.
  }
  for (const dir of dirs) if (isExecutable(join(dir, name))) return join(dir, name);
  const found = onPath(name);
  if (found) return found;
  throw new Error(`Postgres binary '${name}' not found (run scripts/ensure-deps.sh, or set WAL2NATS_PG_BIN)`);
}

/** nats-server: WAL2NATS_NATS_SERVER, Debian's /usr/sbin/nats-server, or PATH. */
export function natsServerBin(): string {
  const candidates = [process.env.WAL2NATS_NATS_SERVER, '/usr/sbin/nats-server', '/usr/bin/nats-server'];
  for (const c of candidates) if (c && isExecutable(c)) return c;
  const found = onPath('nats-server');
  if (found) return found;
  throw new Error("'nats-server' not found (run scripts/ensure-deps.sh, or set WAL2NATS_NATS_SERVER)");
}
