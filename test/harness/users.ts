import { readFileSync } from 'node:fs';

export interface OsUser {
  uid: number;
  gid: number;
}

/**
 * The OS user to run Postgres as: `postgres` when we are root (initdb and the postmaster
 * refuse to run as root), nobody in particular (ourselves) otherwise.
 */
export function postgresRunAs(): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    // Fall through to the error below.
  }
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === 'postgres') return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error(
    "running as root, but there is no 'postgres' OS user to run Postgres as " +
      '(installing the postgresql package creates it; see scripts/ensure-deps.sh)',
  );
}
