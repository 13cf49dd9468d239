/**
 * The HTTP endpoints on the main thread (docs/contract.md "HTTP"):
 *
 *   GET  /metrics               Prometheus text of every thread
 *   GET  /healthz               200 while the process lives (Kubernetes liveness)
 *   GET  /readyz                200 while the slot streams (or this is a healthy standby) and NATS is connected, else 503 + reasons; the role in the body
 *   GET  /api/overview          the at-a-glance numbers and history (console, `wal2nats status`)
 *   GET  /api/messages?state=   in flight, failing, recently delivered (see messages-api.ts)
 *   GET  /api/messages/<id>     one message with headers and body
 *   POST /api/messages/retry    retry now: {"id": …} or {} for every failing message
 *   GET  /                      the console (console-page.ts), with /console.css and /console/*.js
 *
 * /healthz answers from the main thread without asking any worker, so a busy pipeline is never
 * restarted for being busy; /readyz asks the threads with a time limit, so a probe never hangs.
 *
 * Every request passes the Host guard (421); with a token, /api/* (and /metrics with
 * --http-protect-metrics) need it (401); a POST must be same-origin or carry the token (403)
 * and be application/json (415). See http-access.ts, request-guards.ts and docs/operations.md.
 */
import { errorMessage } from '@wal2nats/core';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MessageDetail, MessageQuery, MessageView } from '../messages/message-view.js';
import { accessView, OPEN_ACCESS, presentsToken, type HttpAccess } from './http-access.js';
import { consoleScripts } from './console-assets.js';
import { CONSOLE_CSS, CONSOLE_HTML } from './console-page.js';
import { parseMessageQuery } from './messages-api.js';
import type { Overview } from './overview.js';
import type { Readiness } from './readiness.js';
import { crossSiteProblem, hostProblem } from './request-guards.js';
import { HttpError, readJsonBody, send, sendJson } from './respond.js';
import { withoutRowValues } from './row-data.js';

export interface HttpHandlers {
  metrics(): Promise<{ contentType: string; body: string }>;
  readiness(): Promise<Readiness>;
  overview(): Promise<Overview>;
  messages(query: MessageQuery): Promise<MessageView[]>;
  message(id: string): Promise<MessageDetail>;
  retry(body: Record<string, unknown>): Promise<{ retried: number }>;
}

/** The console may only talk to its own origin; no inline script, nothing from elsewhere. */
const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const MESSAGE_PATH = '/api/messages/';
const SCRIPT_PATH = '/console/';

export class HttpServer {
  private server: Server | null = null;
  private access: HttpAccess = OPEN_ACCESS;

  constructor(private readonly handlers: HttpHandlers) {}

  async listen(host: string, port: number, access: HttpAccess = OPEN_ACCESS): Promise<AddressInfo> {
    this.access = access;
    consoleScripts(); // a build without the console's script fails here, not at the first page view
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
    const url = new URL(req.url ?? '/', 'http://wal2nats');
    const path = url.pathname;
    const api = path.startsWith('/api/');
    try {
      const badHost = hostProblem(req.headers.host, this.access.allowedHosts);
      if (badHost) throw new HttpError(421, badHost);
      const authorized = presentsToken(this.access, req.headers.authorization);
      if (!authorized && this.needsToken(path)) {
        throw new HttpError(
          401,
          `${path} needs the HTTP token: send the header Authorization: Bearer <token> (the token of --http-token or --http-token-file)`,
        );
      }
      if (req.method === 'POST') {
        const crossSite = authorized ? null : crossSiteProblem(req.headers);
        if (crossSite) throw new HttpError(403, crossSite);
        if (path === '/api/messages/retry')
          return sendJson(res, 200, await this.handlers.retry(await readJsonBody(req)));
        throw new HttpError(405, `${path} does not take POST`);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
      switch (path) {
        case '/':
          return send(res, 200, 'text/html; charset=utf-8', CONSOLE_HTML, {
            'content-security-policy': CONSOLE_CSP,
            'referrer-policy': 'no-referrer',
          });
        case '/console.css':
          return send(res, 200, 'text/css; charset=utf-8', CONSOLE_CSS);
        case '/metrics': {
          const { contentType, body } = await this.handlers.metrics();
          return send(res, 200, contentType, body);
        }
        case '/healthz':
          return sendJson(res, 200, { status: 'ok' });
        case '/readyz': {
          const readiness = await this.handlers.readiness();
          return sendJson(res, readiness.ready ? 200 : 503, {
            status: readiness.ready ? 'ready' : 'not ready',
            reasons: readiness.reasons,
            ...(readiness.role ? { role: readiness.role } : {}),
          });
        }
        case '/api/overview':
          return sendJson(res, 200, { ...(await this.handlers.overview()), http: accessView(this.access) });
        case '/api/messages':
          return sendJson(res, 200, await this.handlers.messages(parseMessageQuery(url.searchParams)));
        default:
          if (path.startsWith(SCRIPT_PATH) && consoleScripts().has(path.slice(SCRIPT_PATH.length))) {
            return send(
              res,
              200,
              'text/javascript; charset=utf-8',
              consoleScripts().get(path.slice(SCRIPT_PATH.length))!,
            );
          }
          if (path.startsWith(MESSAGE_PATH) && path.length > MESSAGE_PATH.length) {
            const detail = await this.handlers.message(decodePathPart(path.slice(MESSAGE_PATH.length)));
            return sendJson(res, 200, this.access.hideRowData ? withoutRowValues(detail) : detail);
          }
          throw new HttpError(
            404,
            'not found; try /, /metrics, /healthz, /readyz, /api/overview or /api/messages?state=failing',
          );
      }
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      const message = errorMessage(error);
      const headers: Record<string, string> =
        status === 405
          ? { allow: path === '/api/messages/retry' ? 'POST' : 'GET, HEAD' }
          : status === 401
            ? { 'www-authenticate': 'Bearer realm="wal2nats"' }
            : {};
      if (api || status !== 404) {
        res.writeHead(status, {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-store',
          ...headers,
        });
        res.end(`${JSON.stringify({ error: message })}\n`);
      } else {
        send(res, status, 'text/plain; charset=utf-8', `${message}\n`);
      }
    }
  }

  /** The console's data and actions; /metrics too when asked. The page and its script hold no data. */
  private needsToken(path: string): boolean {
    if (this.access.tokenDigest === null) return false;
    return path.startsWith('/api/') || (path === '/metrics' && this.access.protectMetrics);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function decodePathPart(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new HttpError(400, 'the message id in the path is not valid percent-encoding');
  }
}
