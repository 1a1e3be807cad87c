import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { ATTACHMENT_PATH_PREFIX, type AttachmentLinks } from '../../application/attachments/attachmentLinks';
import { UploadBudgetSpentError, type Attachments } from '../../application/attachments/attachments';
import type { AttachmentRecord } from '../../application/ports/attachments';
import type { TokenVerifier } from '../../application/ports/auth';
import type { Logger } from '../../application/ports/logger';
import { ApiError } from '../errors';
import { parseInput, roomIdSchema } from '../validation';
import { authenticate } from './auth';
import { actorOf } from './requestContext';

export interface AttachmentRoutesDeps {
  attachments: Pick<Attachments, 'admitUpload' | 'typeOf' | 'upload' | 'open'>;
  links: AttachmentLinks;
  verifier: TokenVerifier;
  logger: Logger;
  /** ATTACHMENT_MAX_BYTES. */
  maxBytes: number;
}

export const uploadParams = z.object({ roomId: roomIdSchema });
export const downloadParams = z.object({
  attachmentId: z.uuid({ error: 'must be an attachment id' }),
  variant: z.enum(['image', 'thumbnail'], { error: 'must be image or thumbnail' }),
});
export const downloadQuery = z.object({
  expires: z.string({ error: 'is missing: use the url of a message' }).max(16),
  sig: z.string({ error: 'is missing: use the url of a message' }).max(128),
});

/** Enough of the body to tell its type from (file-type reads at most this much). */
const SNIFF_BYTES = 4100;

/** The public shape of an upload: the attachment object with its signed URLs. */
export function presentUpload(links: AttachmentLinks, record: AttachmentRecord) {
  return links.present({ attachmentId: record.attachmentId, ...record.image });
}

/**
 * Photo attachments: the upload (the image is the request body) and the download at a
 * signed URL, which a browser's <img> loads without a bearer token.
 */
export function attachmentRoutes(deps: AttachmentRoutesDeps): Router {
  const router = Router();

  router.post('/api/rooms/:roomId/attachments', authenticate(deps.verifier, deps.logger), async (req, res) => {
    const { roomId } = parseInput(uploadParams, req.params, 'params');
    const actor = actorOf(res);
    const declared = Number(req.get('content-length') ?? Number.NaN);
    let release: (() => void) | null = null;
    try {
      // A declared length past the limit is refused before a byte of the body is read.
      if (declared > deps.maxBytes) throw tooLarge(deps.maxBytes);
      release = await deps.attachments.admitUpload(roomId, actor.userId);
      const data = await readBody(req, deps.maxBytes, (head) => deps.attachments.typeOf(head));
      const record = await deps.attachments.upload(roomId, actor.userId, data);
      res.status(201).json({ attachment: presentUpload(deps.links, record) });
    } catch (error) {
      // Refused before the body was read to its end: answer now and close the connection,
      // rather than reading (and discarding) the rest of what the client is sending.
      if (!req.complete) closeAfterAnswer(req, res);
      if (error instanceof UploadBudgetSpentError) throw new ApiError('rate_limited', error.message, 10);
      throw error;
    } finally {
      release?.();
    }
  });

  router.get(`${ATTACHMENT_PATH_PREFIX}/:attachmentId/:variant`, async (req, res) => {
    const { attachmentId, variant } = parseInput(downloadParams, req.params, 'params');
    const { expires, sig } = parseInput(downloadQuery, req.query, 'query');
    const check = deps.links.check(attachmentId, variant, expires, sig);
    if (!check.ok) {
      throw new ApiError(
        'forbidden',
        check.reason === 'expired'
          ? 'this attachment link has expired; read the message again for a fresh one'
          : 'this attachment link is not valid',
      );
    }
    const opened = await deps.attachments.open(attachmentId, variant);
    if (opened === null) throw new ApiError('not_found', `attachment ${attachmentId} not found`);
    res.setHeader('content-type', opened.contentType);
    res.setHeader('content-length', String(opened.data.length));
    // One user's image: a browser may keep it until the link expires, no shared cache may.
    res.setHeader('cache-control', `private, max-age=${deps.links.secondsLeft(expires)}`);
    res.setHeader('content-disposition', 'inline');
    res.status(200).end(opened.data);
  });

  return router;
}

const tooLarge = (maxBytes: number) =>
  new ApiError('payload_too_large', `the image is larger than ${maxBytes} bytes (ATTACHMENT_MAX_BYTES)`);

/**
 * Reads the request body up to `maxBytes`, refusing as soon as it passes that (never
 * buffering more), and checks its type on the first bytes, so a file that is not an
 * image is refused without reading the rest either.
 */
function readBody(req: Request, maxBytes: number, checkType: (head: Uint8Array) => Promise<unknown>): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let typeChecked: Promise<unknown> | null = null;
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      req.pause();
      cleanup();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) return fail(tooLarge(maxBytes));
      chunks.push(chunk);
      if (typeChecked === null && received >= SNIFF_BYTES) {
        typeChecked = checkType(Buffer.concat(chunks).subarray(0, SNIFF_BYTES));
        typeChecked.catch(fail);
      }
    };
    const onEnd = () => {
      const data = Buffer.concat(chunks);
      (typeChecked ?? checkType(data)).then(() => {
        if (settled) return;
        settled = true;
        cleanup();
        resolve(data);
      }, fail);
    };
    const onAborted = () => fail(new ApiError('bad_request', 'body: the upload was cut off before its end'));
    const onError = (error: Error) => fail(error);
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAborted);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.on('error', onError);
  });
}

/** The answer closes the connection, so the rest of an unread body is not read and thrown away. */
function closeAfterAnswer(req: Request, res: Response): void {
  res.setHeader('connection', 'close');
  res.once('finish', () => {
    // Give the client a moment to read the answer before the socket goes, then drop it.
    setTimeout(() => req.socket.destroy(), 1000).unref();
  });
}
