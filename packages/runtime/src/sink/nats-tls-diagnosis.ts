/**
 * Why a first connection over TLS timed out. When nats-server refuses our client certificate
 * (or the lack of one), TLS 1.3 reports it only after the handshake, as an alert on the first
 * read; nats.js has already dropped the socket's error listeners by then and waits for its
 * connect timeout, so all we are told is "timeout". This asks each server directly, the way
 * nats.js connects (read INFO, upgrade to TLS with the same options, send CONNECT and PING), and
 * returns the TLS error that comes back, if any.
 */
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { NodeConnectionOptions } from '@nats-io/transport-node';

const PER_SERVER_TIMEOUT_MS = 3000;

function hostPort(url: string): { host: string; port: number } | null {
  try {
    const parsed = new URL(url.includes('://') ? url.replace(/^[a-z]+:\/\//i, 'nats://') : `nats://${url}`);
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    return { host, port: parsed.port ? Number(parsed.port) : 4222 };
  } catch {
    return null;
  }
}

/** The TLS error one server gives us, or null (TLS fine, not offered, or no answer in time). */
function probe(host: string, port: number, tls: ConnectionOptions): Promise<Error | null> {
  return new Promise((resolve) => {
    let socket: Socket | null = null;
    const finish = (result: Error | null): void => {
      clearTimeout(timer);
      socket?.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(null), PER_SERVER_TIMEOUT_MS);
    const raw = tcpConnect(port, host);
    socket = raw;
    raw.once('error', () => finish(null));
    let info = '';
    raw.on('data', (chunk: Buffer) => {
      info += chunk.toString('utf8');
      if (!info.includes('\r\n')) return;
      raw.removeAllListeners('data');
      let offered: { tls_required?: boolean; tls_available?: boolean };
      try {
        offered = JSON.parse(info.slice(info.indexOf('{'), info.indexOf('\r\n'))) as typeof offered;
      } catch {
        return finish(null);
      }
      if (!offered.tls_required && !offered.tls_available) return finish(null);
      const secure = tlsConnect({ ...tls, socket: raw, ...(isIP(host) ? {} : { servername: host }) }, () => {
        secure.write('CONNECT {"verbose":false,"pedantic":false,"tls_required":true}\r\nPING\r\n');
      });
      socket = secure;
      secure.once('error', (error) => finish(error));
      // Any answer (PONG, or an -ERR about credentials) means TLS itself is fine.
      secure.once('data', () => finish(null));
    });
  });
}

export async function diagnoseTls(options: NodeConnectionOptions): Promise<Error | null> {
  // Without TLS options nats.js still upgrades when a server offers TLS: probe that too.
  const given = options.tls ?? {};
  const tls: ConnectionOptions = {
    rejectUnauthorized: true,
    ...(given.ca !== undefined ? { ca: given.ca } : {}),
    ...(given.cert !== undefined ? { cert: given.cert } : {}),
    ...(given.key !== undefined ? { key: given.key } : {}),
  };
  const servers = Array.isArray(options.servers) ? options.servers : options.servers ? [options.servers] : [];
  for (const server of servers) {
    const target = hostPort(server);
    if (!target) continue;
    const error = await probe(target.host, target.port, tls);
    if (error) return error;
  }
  return null;
}
