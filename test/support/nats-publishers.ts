/**
 * How many messages a given process has published to nats-server, as the server counts them
 * (`/connz` of its monitoring port): the proof that a process published nothing in a period,
 * whatever that process says about itself. A process's connections are found by their local
 * ports, read from /proc (Linux): its sockets' inodes, then /proc/net/tcp for their ports.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** The local ports of `pid`'s TCP connections to `remotePort`. */
export function localPortsTo(pid: number, remotePort: number): Set<number> {
  const inodes = socketInodes(pid);
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || !inodes.has(cols[9]!)) continue;
      const local = parseInt(cols[1]!.split(':')[1]!, 16);
      const remote = parseInt(cols[2]!.split(':')[1]!, 16);
      if (remote === remotePort) ports.add(local);
    }
  }
  return ports;
}

interface Connz {
  connections: { port: number; in_msgs: number; name?: string }[];
}

/** Messages the server has received on the given client ports (all their PUB/HPUB). */
export async function messagesFromPorts(monitorUrl: string, ports: ReadonlySet<number>): Promise<number> {
  const connz = (await (await fetch(`${monitorUrl}/connz?limit=4096`)).json()) as Connz;
  return connz.connections.filter((c) => ports.has(c.port)).reduce((sum, c) => sum + c.in_msgs, 0);
}
