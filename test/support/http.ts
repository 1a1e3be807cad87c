/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are what the tests assert on; typing them would only restate the assertions */
/** A small HTTP client for tests: real requests over the loopback, JSON in and out. */
export interface ApiResponse<T = any> {
  status: number;
  /** Parsed JSON, or null when the response had no body. */
  body: T;
  /** The body as received. */
  text: string;
  headers: Headers;
}

export interface CallOptions {
  /** A user's JWT or the internal token, sent as `Authorization: Bearer`. */
  token?: string | null;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is (with Content-Type: application/json unless headers say otherwise). */
  raw?: string;
  headers?: Record<string, string>;
}

export async function call<T = any>(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token != null) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.json !== undefined || options.raw !== undefined) {
    body = options.raw ?? JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  let parsed: unknown = null;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: response.status, body: parsed as T, text, headers: response.headers };
}

/** Calls as one user (or the marketplace, with the internal token). */
export function as(baseUrl: string, token: string) {
  return {
    get: <T = any>(path: string, options: Omit<CallOptions, 'token'> = {}) => call<T>(baseUrl, 'GET', path, { ...options, token }),
    post: <T = any>(path: string, json?: unknown, options: Omit<CallOptions, 'token' | 'json'> = {}) =>
      call<T>(baseUrl, 'POST', path, { ...options, token, ...(json !== undefined ? { json } : {}) }),
    put: <T = any>(path: string, json?: unknown, options: Omit<CallOptions, 'token' | 'json'> = {}) =>
      call<T>(baseUrl, 'PUT', path, { ...options, token, ...(json !== undefined ? { json } : {}) }),
    delete: <T = any>(path: string, options: Omit<CallOptions, 'token'> = {}) => call<T>(baseUrl, 'DELETE', path, { ...options, token }),
  };
}

/** Polls until `check` returns true (or throws after `timeoutMs`). */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
