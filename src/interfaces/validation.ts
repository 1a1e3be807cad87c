import { z } from 'zod';
import { POST_ID_PATTERN } from '../domain/post';
import { ApiError } from './errors';

/**
 * Parses one part of a request (body, params or query) with its schema, or throws
 * 400 bad_request whose message starts with the offending field: "limit: must be …".
 * Unknown extra fields are dropped, not refused.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, part: 'body' | 'params' | 'query'): z.output<S> {
  const result = schema.safeParse(part === 'query' ? withoutEmptyValues(input) : input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? part : issue.path.map(String).join('.');
  throw new ApiError('bad_request', `${field}: ${issue?.message ?? 'is not valid'}`);
}

/** `?limit=&cursor=` (as the contract writes it) means neither was given. */
function withoutEmptyValues(query: unknown): unknown {
  if (query === null || typeof query !== 'object') return query;
  return Object.fromEntries(Object.entries(query).filter(([, value]) => value !== ''));
}

/** The largest seq a read model column holds (PostgreSQL integer). */
export const MAX_SEQ = 2_147_483_647;

/** A whole number given as text (query strings), from min to max. */
export function integerText(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return z
    .string({ error: message })
    .regex(/^\d{1,10}$/, { error: message })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { error: message })
    .meta({ description: `an integer from ${min} to ${max}` });
}

/** A whole number in a JSON body, from min to max. */
export function integer(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message });
}

/**
 * Text a person typed: well-formed Unicode (no lone surrogates), no NUL (PostgreSQL
 * text cannot hold it), from min to max characters counted as code points.
 */
export function text(min: number, max: number, options: { notBlank?: boolean } = {}) {
  const message = `must be text of ${min} to ${max} characters`;
  return z
    .string({ error: message })
    .refine((s) => s.isWellFormed() && !s.includes('\u0000'), { error: 'must be valid Unicode text without NUL characters' })
    .refine(
      (s) => {
        const length = [...s].length;
        return length >= min && length <= max;
      },
      { error: message },
    )
    .refine((s) => !options.notBlank || s.trim() !== '', { error: 'must not be blank' })
    .meta({ description: `${min} to ${max} characters of valid Unicode text without NUL${options.notBlank ? ', not blank' : ''}` });
}

export const postIdSchema = z
  .string({ error: 'must be 1 to 64 characters of A-Z, a-z, 0-9, _ or -' })
  .regex(POST_ID_PATTERN, { error: 'must be 1 to 64 characters of A-Z, a-z, 0-9, _ or -' });

/** Room ids are UUIDs this service made (lower case); any case is accepted. */
export const roomIdSchema = z
  .string({ error: 'must be a room id (a UUID)' })
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, { error: 'must be a room id (a UUID)' })
  .transform((id) => id.toLowerCase());

/**
 * A client-made message id: any string the domain accepts (1–128 characters, a UUID
 * is expected), but never one PostgreSQL cannot store (NUL, lone surrogates).
 */
export const clientMessageIdSchema = z
  .string({ error: 'must be a string of 1 to 128 characters (a UUID is expected)' })
  .refine((s) => s.isWellFormed() && !s.includes('\u0000'), { error: 'must be valid Unicode text without NUL characters' });

/** A JSON object body, with the shape given; anything else is "body: must be a JSON object". */
export function jsonObject<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.object(shape, { error: 'must be a JSON object (Content-Type: application/json)' });
}

const INSTANT_MESSAGE = 'must be an ISO-8601 time with a zone, like 2026-01-01T12:00:00Z';

/** An instant given as text: ISO-8601 date and time with `Z` or an offset (a local time would be ambiguous). */
export const instantText = z
  .string({ error: INSTANT_MESSAGE })
  .pipe(z.iso.datetime({ offset: true, error: INSTANT_MESSAGE }))
  .transform((text) => new Date(text));

/** The photos a message sends: up to 10 attachment ids from uploads to the room (docs/attachments.md). */
export const attachmentIdsSchema = z
  .array(
    z
      .string({ error: 'must be attachment ids (UUIDs)' })
      .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, { error: 'must be attachment ids (UUIDs)' })
      .transform((id) => id.toLowerCase()),
    { error: 'must be an array of attachment ids' },
  )
  .max(10, { error: 'at most 10 a message' });
