/**
 * The console's calls to its own origin's JSON API. With --http-token the API answers 401
 * until the page sends `Authorization: Bearer <token>`: the console asks for the token once
 * (token-dialog.ts) and keeps it in sessionStorage, so it lasts as long as the tab and is never
 * sent anywhere but here. A header, unlike a cookie, is never added by the browser to a request
 * that another page makes.
 */

/** An answer that was not 2xx; `status` lets a caller tell "gone" (404) or "who are you" (401). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'wal2nats-http-token';

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

let onUnauthorized: () => void = () => {};

/** What to do when the API wants a (new) token: the console opens its token dialog. */
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const token = storedToken();
  const headers: Record<string, string> = {
    accept: 'application/json',
    ...(init.headers as Record<string, string> | undefined),
  };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { cache: 'no-store', ...init, headers });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { error: text };
  }
  if (!res.ok) {
    if (res.status === 401) onUnauthorized();
    const error = body !== null && typeof body === 'object' && 'error' in body ? String(body.error) : '';
    throw new ApiError(res.status, error || `${res.status} ${res.statusText}`);
  }
  return body as T;
}

/** A JSON POST: the server takes state-changing requests only as application/json. */
export function post<T>(path: string, body: unknown = {}): Promise<T> {
  return api<T>(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}
