/**
 * The SDK's photo upload through XMLHttpRequest (what browsers have): progress as the
 * bytes go, a token refused once tried again with a new one, refusals typed by code.
 */
import { uploadPhoto, type XhrLike } from '../../client/sdk/src/upload';

interface Answer {
  status: number;
  body: unknown;
}

/** An XMLHttpRequest that "sends" the body in four steps and answers with the next scripted answer. */
function fakeXhr(answers: Answer[], seen: Array<{ url: string; headers: Record<string, string>; body: unknown }>) {
  return class FakeXhr implements XhrLike {
    status = 0;
    responseText = '';
    readonly upload: XhrLike['upload'] = { onprogress: null };
    onload: XhrLike['onload'] = null;
    onerror: XhrLike['onerror'] = null;
    onabort: XhrLike['onabort'] = null;
    private url = '';
    private readonly headers: Record<string, string> = {};
    open(_method: string, url: string) {
      this.url = url;
    }
    setRequestHeader(name: string, value: string) {
      this.headers[name] = value;
    }
    getResponseHeader() {
      return null;
    }
    abort() {
      this.onabort?.({});
    }
    send(body: Uint8Array) {
      seen.push({ url: this.url, headers: { ...this.headers }, body });
      const answer = answers.shift() as Answer;
      void (async () => {
        for (const step of [1, 2, 3, 4]) {
          await Promise.resolve();
          this.upload.onprogress?.({ loaded: (body.byteLength * step) / 4, total: body.byteLength, lengthComputable: true });
        }
        this.status = answer.status;
        this.responseText = JSON.stringify(answer.body);
        this.onload?.({});
      })();
    }
  };
}

const attachment = { attachmentId: 'a1', contentType: 'image/png', bytes: 8, width: 1, height: 1, sha256: 'x', url: '/attachments/a1/image', thumbnailUrl: '/attachments/a1/thumbnail' };
const noFetch = (() => Promise.reject(new Error('fetch must not be used'))) as unknown as typeof fetch;

describe('photo upload with XMLHttpRequest', () => {
  it('reports progress as the bytes go and gives the attachment', async () => {
    const seen: Array<{ url: string; headers: Record<string, string>; body: unknown }> = [];
    const progress: number[] = [];
    const result = await uploadPhoto(
      { url: 'https://chat.test/api/rooms/r1/attachments', fetch: noFetch, XMLHttpRequest: fakeXhr([{ status: 201, body: { attachment } }], seen) },
      { token: async () => 't1', rejected: () => undefined },
      new Uint8Array(8),
      { contentType: 'image/png', onProgress: (p) => progress.push(p.loaded) },
    );
    expect(result).toEqual(attachment);
    expect(progress).toEqual([0, 2, 4, 6, 8, 8]);
    expect(seen[0]?.headers).toEqual({ authorization: 'Bearer t1', 'content-type': 'image/png' });
  });

  it('tries a refused token once more with a new one', async () => {
    const seen: Array<{ url: string; headers: Record<string, string>; body: unknown }> = [];
    const tokens = ['old', 'new'];
    const rejected: string[] = [];
    const XHR = fakeXhr([{ status: 401, body: { error: { code: 'unauthorized', message: 'expired' } } }, { status: 201, body: { attachment } }], seen);
    await uploadPhoto({ url: 'u', fetch: noFetch, XMLHttpRequest: XHR }, { token: async () => tokens[rejected.length] as string, rejected: (t) => rejected.push(t) }, new Uint8Array(4));
    expect(rejected).toEqual(['old']);
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer old', 'Bearer new']);
  });

  it.each([
    [413, { error: { code: 'payload_too_large', message: 'too big' } }, 'payload_too_large'],
    [415, { error: { code: 'unsupported_media_type', message: 'not an image' } }, 'unsupported_media_type'],
    [413, '<html>nginx: Request Entity Too Large</html>', 'payload_too_large'],
  ])('a %i answer (case %#) rejects with its code', async (status, body, code) => {
    const XHR = fakeXhr([{ status, body }], []);
    await expect(uploadPhoto({ url: 'u', fetch: noFetch, XMLHttpRequest: XHR }, { token: async () => 't', rejected: () => undefined }, new Uint8Array(4))).rejects.toMatchObject({
      name: 'ChatApiError',
      status,
      code,
      temporary: false,
    });
  });
});
