/** The console's calls to its own origin's JSON API. */

/** An answer that was not 2xx; `status` lets a caller tell "gone" (404) from a failure. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, { cache: 'no-store', ...init, headers: { accept: 'application/json', ...(init.headers as Record<string, string> | undefined) } });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { error: text };
  }
  if (!res.ok) {
    const error = body !== null && typeof body === 'object' && 'error' in body ? String(body.error) : '';
    throw new ApiError(res.status, error || `${res.status} ${res.statusText}`);
  }
  return body as T;
}

/** A JSON POST: the server takes state-changing requests only as application/json. */
export function post<T>(path: string, body: unknown = {}): Promise<T> {
  return api<T>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}
