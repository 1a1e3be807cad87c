/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are what the tests assert on; typing them would only restate the assertions */
/** A small HTTP client for tests: real requests over the loopback, JSON in and out. */
import { randomUUID } from 'node:crypto';
import { TEST_INTERNAL_TOKEN, tokenFor } from './tokens';

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
  /** Sent as is (with Content-Type: application/json unless headers say otherwise): text, or bytes such as an image. */
  raw?: string | Uint8Array;
  headers?: Record<string, string>;
}

export async function call<T = any>(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token != null) headers.authorization = `Bearer ${options.token}`;
  let body: string | Uint8Array | undefined;
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

/** A fresh id with a readable prefix, so suites sharing a server never meet each other's users or posts. */
export const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

export interface Room {
  roomId: string;
  lenderId: string;
  borrowerId: string;
}

/** A lender's post and a borrower's room on it, made over the HTTP API. */
export async function openRoom(baseUrl: string, lenderId: string, borrowerId: string): Promise<Room> {
  const postId = unique('post');
  const put = await call(baseUrl, 'PUT', `/api/internal/posts/${postId}`, {
    token: TEST_INTERNAL_TOKEN,
    json: { ownerId: lenderId, title: 'Cordless drill' },
  });
  if (put.status !== 200) throw new Error(`upsert post: ${put.status} ${put.text}`);
  const opened = await call<{ room: Room }>(baseUrl, 'POST', '/api/rooms', { token: tokenFor(borrowerId), json: { postId } });
  if (opened.status !== 201) throw new Error(`open room: ${opened.status} ${opened.text}`);
  return opened.body.room;
}

/** Reads a Prometheus sample off /metrics, e.g. `chat_x_total{outcome="ok"}` (0 when absent). */
export async function metric(baseUrl: string, line: string): Promise<number> {
  const response = await fetch(`${baseUrl}/metrics`);
  const text = await response.text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}
