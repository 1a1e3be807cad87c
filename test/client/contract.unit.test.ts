/**
 * The SDK's copy of the wire contract (client/sdk/src/types.ts) against the server's own
 * definitions: error codes (src/interfaces/errors.ts), client frames (their zod schemas)
 * and server frames (src/interfaces/ws/frames.ts), close codes (closeCodes.ts). Checked
 * twice: by the compiler (the type assertions below fail `tsc`, which `npm test` runs) and
 * at run time, so a frame, field, code or close code added or renamed on one side only
 * fails the suite, naming what differs.
 */
import { CLIENT_FRAME_TYPES, CloseCodes, ERROR_CODES, SERVER_FRAME_TYPES, type ClientFrame, type ErrorCode, type ServerFrame } from '../../client/sdk/src';
import { statusOfCode, type ErrorCode as ServerErrorCode } from '../../src/interfaces/errors';
import { CloseCode } from '../../src/interfaces/ws/closeCodes';
import { clientFrameSchemas, serverFrameTypes, type ClientFrame as ServerClientFrame, type ServerFrame as ServerServerFrame } from '../../src/interfaces/ws/frames';

// ---- compile time: each side's types, key by key ----

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Fails to compile unless `T` is `true`. */
const assertTrue = <T extends true>(): T => true as T;

/** Per frame type: whether the two sides' frames of that type have the same field names. */
type SameFields<A extends { type: string }, B extends { type: string }> = {
  [Type in A['type'] | B['type']]: Equal<keyof Extract<A, { type: Type }>, keyof Extract<B, { type: Type }>>;
};
type AllTrue<Record_> = Record_[keyof Record_] extends true ? true : false;

assertTrue<Equal<ErrorCode, ServerErrorCode>>();
assertTrue<Equal<ClientFrame['type'], ServerClientFrame['type']>>();
assertTrue<Equal<ServerFrame['type'], ServerServerFrame['type']>>();
assertTrue<AllTrue<SameFields<ClientFrame, ServerClientFrame>>>();
assertTrue<AllTrue<SameFields<ServerFrame, ServerServerFrame>>>();
// `error`'s ref is string | null on both sides, `done`'s a string, and the optional refs optional.
assertTrue<Equal<Extract<ServerFrame, { type: 'error' }>['ref'], Extract<ServerServerFrame, { type: 'error' }>['ref']>>();
assertTrue<Equal<Extract<ServerFrame, { type: 'done' }>['ref'], Extract<ServerServerFrame, { type: 'done' }>['ref']>>();
assertTrue<Equal<Extract<ServerFrame, { type: 'ack' }>['ref'], Extract<ServerServerFrame, { type: 'ack' }>['ref']>>();

// ---- run time ----

const sorted = (values: Iterable<string | number>) => [...values].map(String).sort();

describe("the SDK's contract types match the server's", () => {
  it('error codes', () => {
    expect(sorted(ERROR_CODES)).toEqual(sorted(Object.keys(statusOfCode)));
  });

  it('client frame types', () => {
    expect(sorted(CLIENT_FRAME_TYPES)).toEqual(sorted(Object.keys(clientFrameSchemas)));
  });

  it('the fields of each client frame', () => {
    for (const [type, schema] of Object.entries(clientFrameSchemas)) {
      // The SDK's frames are types only: its sender builds them, so check what it sends against the schema.
      const parsed = schema.safeParse(sampleFrame(type));
      expect({ type, ok: parsed.success, issues: parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.')) }).toEqual({ type, ok: true, issues: [] });
    }
  });

  it('server frame types', () => {
    expect(sorted(SERVER_FRAME_TYPES)).toEqual(sorted(Object.keys(serverFrameTypes)));
  });

  it('close codes: every code the server sends, under the same name and number', () => {
    const sdk = Object.entries(CloseCodes).filter(([name]) => name !== 'normal');
    expect(Object.fromEntries(sdk)).toEqual({ ...CloseCode });
    expect(CloseCodes.normal).toBe(1000);
  });
});

/** One frame of each client type, as the SDK builds it (every field, `id` included). */
function sampleFrame(type: string): ClientFrame {
  const roomId = '7b0f6a4e-2f4b-4a55-9a36-0c7f4f0e5d11';
  const frames: { [Type in ClientFrame['type']]: Extract<ClientFrame, { type: Type }> } = {
    send: { type: 'send', id: '1', roomId, clientMessageId: 'c9a1c8de-51a2-4d8e-9a0e-4b1b9c1d2e3f', body: 'hi', attachments: ['0b8f1d1e-1c1a-4b8e-8e0e-1a2b3c4d5e6f'] },
    read: { type: 'read', id: '2', roomId, upToSeq: 3 },
    typing: { type: 'typing', id: '3', roomId },
    resume: { type: 'resume', id: '4', roomId, afterSeq: 0 },
    auth: { type: 'auth', id: '5', token: 'a.b.c' },
    ping: { type: 'ping', id: '6' },
  };
  return frames[type as ClientFrame['type']];
}
