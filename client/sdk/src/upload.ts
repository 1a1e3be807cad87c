import { ChatApiError } from './errors.js';
import type { Attachment, ErrorBody } from './types.js';

/** A photo to upload: a browser `File` or `Blob`, or the bytes themselves. */
export type PhotoData = Blob | ArrayBuffer | Uint8Array;

/** How far an upload is: bytes of the photo sent so far, of `total`. */
export interface UploadProgress {
  loaded: number;
  total: number;
}

export interface UploadOptions {
  /** Sent as `Content-Type` (the server decides the type from the bytes anyway); default: the Blob's own type, else `application/octet-stream`. */
  contentType?: string;
  /**
   * Called as the bytes go out. With XMLHttpRequest (browsers) on every upload progress
   * event; without it (Node 20's fetch) only at the start (0) and at the end (total).
   */
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the DOM's XMLHttpRequest event types are not in every build of this package */
/** What the SDK needs of XMLHttpRequest (the browser's): upload progress, which fetch does not give. */
export interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: any): void;
  abort(): void;
  readonly status: number;
  readonly responseText: string;
  getResponseHeader(name: string): string | null;
  readonly upload: { onprogress: ((event: any) => void) | null };
  onload: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  onabort: ((event: any) => void) | null;
}
/* eslint-enable @typescript-eslint/no-explicit-any */
export type XMLHttpRequestConstructor = new () => XhrLike;

/** What came back from the server, before it is judged. */
interface RawAnswer {
  status: number;
  text: string;
  retryAfter: number | null;
}

export function sizeOf(data: PhotoData): number {
  return data instanceof ArrayBuffer ? data.byteLength : data instanceof Uint8Array ? data.byteLength : data.size;
}

export function contentTypeOf(data: PhotoData, explicit?: string): string {
  if (explicit !== undefined && explicit !== '') return explicit;
  if (typeof Blob !== 'undefined' && data instanceof Blob && data.type !== '') return data.type;
  return 'application/octet-stream';
}

const aborted = () => new ChatApiError(0, 'network', 'the upload was cancelled');

/** One POST of the bytes, through XMLHttpRequest (with upload progress). */
function postWithXhr(XHR: XMLHttpRequestConstructor, url: string, token: string, data: PhotoData, options: UploadOptions): Promise<RawAnswer> {
  return new Promise<RawAnswer>((resolve, reject) => {
    const total = sizeOf(data);
    const xhr = new XHR();
    const onAbort = () => xhr.abort();
    const done = () => options.signal?.removeEventListener('abort', onAbort);
    xhr.open('POST', url);
    xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.setRequestHeader('content-type', contentTypeOf(data, options.contentType));
    xhr.upload.onprogress = (event: { loaded: number; total: number; lengthComputable?: boolean }) => {
      options.onProgress?.({ loaded: Math.min(event.loaded, total), total });
    };
    xhr.onload = () => {
      done();
      resolve({ status: xhr.status, text: xhr.responseText, retryAfter: Number(xhr.getResponseHeader('retry-after')) || null });
    };
    xhr.onerror = () => {
      done();
      reject(new ChatApiError(0, 'network', 'the upload broke off: the service could not be reached'));
    };
    xhr.onabort = () => {
      done();
      reject(aborted());
    };
    if (options.signal?.aborted) {
      reject(aborted());
      return;
    }
    options.signal?.addEventListener('abort', onAbort);
    options.onProgress?.({ loaded: 0, total });
    xhr.send(data);
  });
}

/** One POST of the bytes, through fetch: no upload progress, so only 0 at the start and `total` at the end. */
async function postWithFetch(fetchImpl: typeof fetch, url: string, token: string, data: PhotoData, options: UploadOptions): Promise<RawAnswer> {
  const total = sizeOf(data);
  options.onProgress?.({ loaded: 0, total });
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': contentTypeOf(data, options.contentType) },
      body: data as NonNullable<RequestInit['body']>,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw aborted();
    throw new ChatApiError(0, 'network', error instanceof Error ? error.message : 'the service could not be reached');
  }
  const text = await response.text();
  return { status: response.status, text, retryAfter: Number(response.headers.get('retry-after')) || null };
}

/**
 * `POST /api/rooms/:roomId/attachments` with the photo as the body → the attachment.
 * A 401 is tried once more with a new token; any other refusal (413 `payload_too_large`,
 * 415 `unsupported_media_type`, 429, 503…) or a network failure rejects with
 * `ChatApiError` (network: status 0).
 */
export async function uploadPhoto(
  transport: { url: string; fetch: typeof fetch; XMLHttpRequest: XMLHttpRequestConstructor | null },
  tokens: { token(): Promise<string>; rejected(token: string): void },
  data: PhotoData,
  options: UploadOptions = {},
): Promise<Attachment> {
  for (let attempt = 0; ; attempt += 1) {
    const token = await tokens.token();
    const answer =
      transport.XMLHttpRequest !== null
        ? await postWithXhr(transport.XMLHttpRequest, transport.url, token, data, options)
        : await postWithFetch(transport.fetch, transport.url, token, data, options);
    if (answer.status >= 200 && answer.status < 300) {
      const attachment = (JSON.parse(answer.text) as { attachment: Attachment }).attachment;
      const total = sizeOf(data);
      options.onProgress?.({ loaded: total, total });
      return attachment;
    }
    if (answer.status === 401 && attempt === 0) {
      tokens.rejected(token);
      continue;
    }
    // A proxy in front may refuse first, without the service's body: the status still says why.
    const byStatus = answer.status === 413 ? 'payload_too_large' : answer.status === 415 ? 'unsupported_media_type' : 'internal';
    let error: ErrorBody['error'] = { code: byStatus, message: `HTTP ${answer.status}` };
    try {
      error = (JSON.parse(answer.text) as ErrorBody).error ?? error;
    } catch {
      // Not the service's body (a proxy's page): keep the status.
    }
    throw new ChatApiError(answer.status, error.code, error.message, answer.retryAfter);
  }
}
