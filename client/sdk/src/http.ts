import { ChatApiError } from './errors.js';
import type {
  ErrorBody,
  Message,
  MessagePage,
  OpenRoomResponse,
  Post,
  PostPage,
  Report,
  ReportPage,
  ReportReason,
  ReportWithContext,
  ResolutionAction,
  Room,
  RoomPage,
  RoomResponse,
} from './types.js';

interface TokenSource {
  token(): Promise<string>;
  /** The service refused this token (401): the next call asks for a new one. */
  rejected(token: string): void;
}

/** The contract's HTTP routes for a signed-in user, with token refresh on 401 and retries of reads on 503. */
export class HttpApi {
  constructor(
    private readonly base: string,
    private readonly fetchImpl: typeof fetch,
    private readonly tokens: TokenSource,
  ) {}

  posts(options: { limit?: number; cursor?: string | null } = {}): Promise<PostPage> {
    return this.request('GET', `/api/posts${query({ limit: options.limit, cursor: options.cursor })}`);
  }

  post(postId: string): Promise<Post> {
    return this.request('GET', `/api/posts/${encodeURIComponent(postId)}`);
  }

  rooms(options: { limit?: number; cursor?: string | null } = {}): Promise<RoomPage> {
    return this.request('GET', `/api/rooms${query({ limit: options.limit, cursor: options.cursor })}`);
  }

  async room(roomId: string): Promise<Room> {
    return (await this.request<RoomResponse>('GET', `/api/rooms/${encodeURIComponent(roomId)}`)).room;
  }

  messages(roomId: string, options: { before?: number; after?: number; limit?: number }): Promise<MessagePage> {
    return this.request('GET', `/api/rooms/${encodeURIComponent(roomId)}/messages${query(options)}`);
  }

  async openRoom(postId: string): Promise<OpenRoomResponse & { created: boolean }> {
    const { body, status } = await this.call<OpenRoomResponse>('POST', '/api/rooms', { postId });
    return { ...body, created: status === 201 };
  }

  async sendMessage(roomId: string, clientMessageId: string, body: string): Promise<Message> {
    const path = `/api/rooms/${encodeURIComponent(roomId)}/messages`;
    return (await this.request<{ message: Message }>('POST', path, { clientMessageId, body })).message;
  }

  async markRead(roomId: string, upToSeq: number): Promise<void> {
    await this.request('POST', `/api/rooms/${encodeURIComponent(roomId)}/read`, { upToSeq });
  }

  async reopen(roomId: string): Promise<Room> {
    return (await this.request<RoomResponse>('POST', `/api/rooms/${encodeURIComponent(roomId)}/reopen`)).room;
  }

  async block(roomId: string, blocked: boolean): Promise<void> {
    await this.request(blocked ? 'POST' : 'DELETE', `/api/rooms/${encodeURIComponent(roomId)}/block`);
  }

  async report(roomId: string, seq: number, reason: ReportReason, note?: string): Promise<Report> {
    const path = `/api/rooms/${encodeURIComponent(roomId)}/messages/${seq}/report`;
    return (await this.request<{ report: Report }>('POST', path, { reason, ...(note !== undefined ? { note } : {}) })).report;
  }

  reports(options: { status?: 'open' | 'resolved'; limit?: number; cursor?: string | null } = {}): Promise<ReportPage> {
    return this.request('GET', `/api/moderation/reports${query({ status: options.status, limit: options.limit, cursor: options.cursor })}`);
  }

  reportWithContext(reportId: string): Promise<ReportWithContext> {
    return this.request('GET', `/api/moderation/reports/${encodeURIComponent(reportId)}`);
  }

  async resolveReport(reportId: string, resolution: { action: ResolutionAction; note: string; suspendFor?: string }): Promise<Report> {
    const path = `/api/moderation/reports/${encodeURIComponent(reportId)}/resolution`;
    return (await this.request<{ report: Report }>('POST', path, resolution)).report;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.call<T>(method, path, body)).body;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    for (let attempt = 0; ; attempt += 1) {
      const token = await this.tokens.token();
      let response: Response;
      try {
        response = await this.fetchImpl(`${this.base}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
      } catch (error) {
        if (method === 'GET' && attempt < 2) {
          await pause(500 * (attempt + 1));
          continue;
        }
        throw new ChatApiError(0, 'network', error instanceof Error ? error.message : 'the service could not be reached');
      }
      const text = await response.text();
      if (response.ok) return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
      let error: ErrorBody['error'] = { code: 'internal', message: `HTTP ${response.status}` };
      try {
        error = (JSON.parse(text) as ErrorBody).error ?? error;
      } catch {
        // Not the contract's body (a proxy's page): keep the status.
      }
      const retryAfter = Number(response.headers.get('retry-after')) || null;
      // An expired or revoked token: once more with a new one (every call here is safe to repeat).
      if (response.status === 401 && attempt === 0) {
        this.tokens.rejected(token);
        continue;
      }
      if (response.status === 503 && method === 'GET' && attempt < 2) {
        await pause(Math.min(5, retryAfter ?? 1) * 1000);
        continue;
      }
      throw new ChatApiError(response.status, error.code, error.message, retryAfter);
    }
  }
}

function query(params: Record<string, string | number | null | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== null);
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Development mode only: a token for any user name (`POST /api/dev/session`); 404 elsewhere. */
export async function devSignIn(baseUrl: string, userId: string, fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis)) {
  const response = await fetchImpl(`${baseUrl.replace(/\/+$/, '')}/api/dev/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  const text = await response.text();
  if (!response.ok) {
    let error: ErrorBody['error'] = { code: 'internal', message: `HTTP ${response.status}` };
    try {
      error = (JSON.parse(text) as ErrorBody).error ?? error;
    } catch {
      // keep the status
    }
    throw new ChatApiError(response.status, error.code, error.message);
  }
  return JSON.parse(text) as { userId: string; token: string; expiresAt: string };
}
