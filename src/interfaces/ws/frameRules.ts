import type { BudgetKind } from '../../application/limits/userBudgets';
import { CloseCode, RATE_LIMITED_CLOSE_REASON } from './closeCodes';
import type { Connection } from './connection';
import { errorFrame, type ClientFrame, type ClientFrameType } from './frames';

/**
 * How the gateway treats each client frame before its handler (dispatch.ts) runs. One row
 * a frame type, keyed by the frame union, so a frame added to `clientFrameSchemas` does
 * not compile until it has a row here and a handler in the dispatcher.
 */
export interface FrameRule<Frame extends ClientFrame> {
  /**
   * The user's budget the frame draws from, in this process, before it is queued: over it,
   * the frame is refused (`rate_limited` and a strike) — or, for `typing`, a hint, dropped
   * silently. Null: the frame costs nothing.
   */
  budget: Exclude<BudgetKind, 'command'> | null;
  /**
   * `pipelined`: started at once beside the queue, not waiting for the previous frame's
   * answer (sends: shed under overload, refused past the connection's limit of frames in
   * hand). `queued`: handled after the connection's earlier frames, one at a time.
   */
  lane: 'pipelined' | 'queued';
  /** Whether handling it ends the connection's warm-up (a pipelined frame: on arrival). Resumes sent first thing do not. */
  endsWarmup: boolean;
  /** Whether the frame holds its room's live frames from arrival until it has been handled (`resume`). */
  holdsRoom: boolean;
  /** While the connection winds up (closing with 4029): refused with `rate_limited` (it is owed an answer), else dropped. */
  answeredWhileClosing: boolean;
  /** What an error answering it names as `ref` when the frame carries no `id` (v1.1); with one, the `id` (see refOfFrame). */
  refWithoutId(frame: Frame): string;
  /** Whether the frame, when it carries an `id`, is answered `{type:"done", ref: id}` once applied (those with no answer of their own). */
  answeredDone: boolean;
}

export type FrameRules = { readonly [Type in ClientFrameType]: FrameRule<Extract<ClientFrame, { type: Type }>> };

const byType = (frame: ClientFrame): string => frame.type;

export const frameRules: FrameRules = {
  send: { budget: 'send', lane: 'pipelined', endsWarmup: true, holdsRoom: false, answeredWhileClosing: true, refWithoutId: (frame) => frame.clientMessageId, answeredDone: false },
  read: { budget: 'read', lane: 'queued', endsWarmup: true, holdsRoom: false, answeredWhileClosing: true, refWithoutId: byType, answeredDone: true },
  resume: { budget: 'resume', lane: 'queued', endsWarmup: false, holdsRoom: true, answeredWhileClosing: true, refWithoutId: byType, answeredDone: false },
  typing: { budget: 'typing', lane: 'queued', endsWarmup: true, holdsRoom: false, answeredWhileClosing: false, refWithoutId: byType, answeredDone: true },
  auth: { budget: null, lane: 'queued', endsWarmup: true, holdsRoom: false, answeredWhileClosing: false, refWithoutId: byType, answeredDone: false },
  ping: { budget: null, lane: 'queued', endsWarmup: true, holdsRoom: false, answeredWhileClosing: false, refWithoutId: byType, answeredDone: false },
};

/** The row of a frame, for code that handles any frame. */
export function ruleOf(frame: ClientFrame): FrameRule<ClientFrame> {
  return frameRules[frame.type] as FrameRule<ClientFrame>;
}

/** The error ref of any frame: its `id` when it has one (v1.2), else its clientMessageId or type. */
export function refOfFrame(frame: ClientFrame): string {
  return frame.id ?? ruleOf(frame).refWithoutId(frame);
}

/**
 * A frame refused for the user's budget: `rate_limited`, and a strike; when the strikes
 * pile up, the connection closes with 4029 once its sends under way are answered.
 */
export function refuseOverBudget(connection: Connection, message: string, ref: string): void {
  connection.send(errorFrame('rate_limited', message, ref));
  if (connection.strikes.add()) connection.closeWhenAnswered(CloseCode.rateLimited, RATE_LIMITED_CLOSE_REASON);
}
