/**
 * The HTTP endpoints on the main thread: /metrics (Prometheus text of every thread), /healthz
 * (the process lives) and /readyz (the slot streams and NATS is connected), as CONTRACT.md says.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
}

export interface HttpHandlers {
  metrics(): Promise<{ contentType: string; body: string }>;
  readiness(): Promise<Readiness>;
}

export class HttpServer {
  private server: Server | null = null;

  constructor(private readonly handlers: HttpHandlers) {}

  async listen(host: string, port: number): Promise<AddressInfo> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
      switch (path) {
        case '/metrics': {
          const { contentType, body } = await this.handlers.metrics();
          return send(res, 200, contentType, body);
        }
        case '/healthz':
          return send(res, 200, 'application/json', '{"status":"ok"}\n');
        case '/readyz': {
          const readiness = await this.handlers.readiness();
          return send(res, readiness.ready ? 200 : 503, 'application/json', `${JSON.stringify({ status: readiness.ready ? 'ready' : 'not ready', reasons: readiness.reasons })}\n`);
        }
        default:
          return send(res, 404, 'text/plain', 'not found; try /metrics, /healthz or /readyz\n');
      }
    } catch (error) {
      send(res, 500, 'text/plain', `${error instanceof Error ? error.message : String(error)}\n`);
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}
