import type { TokenVerifier } from '../../application/ports/auth';
import type { IdGenerator } from '../../application/ports/ids';
import type { Logger } from '../../application/ports/logger';
import type { ChatQueries } from '../../application/ports/readModels';
import type { RoomDirectory } from '../../application/ports/roomDirectory';
import type { TypingSignals } from '../../application/ports/typingSignals';
import type { RoomCommands } from '../../application/room/roomCommands';
import { sendTyping } from '../../application/room/sendTyping';
import type { UserBudgets } from '../../application/limits/userBudgets';
import type { FairTurns } from '../../application/live/fairTurns';
import { resumeRoom } from '../../application/live/resumeRoom';
import { toApiError } from '../errors';
import { UnavailableError } from '../../application/unavailable';
import { refusedTokenMessage } from '../refusedToken';
import { CloseCode } from './closeCodes';
import type { Connection } from './connection';
import { refOfFrame, refuseOverBudget, ruleOf } from './frameRules';
import type { SendTicket } from './sendAdmission';
import { errorFrame, refTo, type AuthFrame, type ClientFrame, type ClientFrameType, type ReadFrame, type ResumeFrame, type SendFrame, type TypingFrame } from './frames';

export interface DispatchDeps {
  commands: RoomCommands;
  queries: ChatQueries;
  directory: RoomDirectory;
  typing: TypingSignals;
  verifier: TokenVerifier;
  ids: IdGenerator;
  logger: Logger;
  /** How long an ack may wait for the live feed before it is sent directly. */
  ackFallbackMs: number;
  /** The per-user budgets; the send budget's cross-process share is drawn here. */
  budgets: UserBudgets;
  /** Resolves once the read models hold every event already pushed live (see application/live/resumeRoom.ts). */
  livePushed(): Promise<void>;
  /** The process's replays take turns here. */
  replayTurns: FairTurns;
}

/** Frame → use case. Each handler answers on `connection` and never throws. */
export function makeDispatcher(deps: DispatchDeps) {
  const actor = (connection: Connection) => ({ userId: connection.userId, correlationId: deps.ids.newId() });

  /** A refused command is an error frame; an unexpected fault is logged and answered `internal`. */
  const answerError = (connection: Connection, error: unknown, ref: string): void => {
    const apiError = toApiError(error);
    if (apiError.code === 'internal') deps.logger.error({ err: error, userId: connection.userId, ref }, 'websocket frame failed');
    connection.send(errorFrame(apiError.code, apiError.message, ref));
  };

  /** `ticket` (the gateway's admission) is told once the send is acked, or otherwise answered or dropped. */
  const send = async (connection: Connection, frame: SendFrame, ticket: SendTicket = untracked): Promise<void> => {
    // This process's budget was drawn before queueing (gateway); this is the one all processes share.
    // In send order: nothing else may await between this check and the command taking its turn.
    if (!(await connection.inSendOrder(() => deps.budgets.takeShared('send', connection.userId)))) {
      refuseOverBudget(connection, deps.budgets.refusal('send'), refOfFrame(frame));
      ticket.released();
      return;
    }
    const pending = connection.expectAck(frame.roomId, frame.clientMessageId, frame.id ?? null, ticket);
    try {
      const result = await deps.commands.sendMessage(
        {
          roomId: frame.roomId,
          clientMessageId: frame.clientMessageId,
          body: frame.body,
          ...(frame.attachments !== undefined ? { attachments: frame.attachments } : {}),
        },
        actor(connection),
      );
      connection.settleAck(pending, result.message, result.created, deps.ackFallbackMs);
    } catch (error) {
      connection.cancelAck(frame.roomId, frame.clientMessageId, pending);
      answerError(connection, error, refOfFrame(frame));
      ticket.released();
    }
  };

  const read = async (connection: Connection, frame: ReadFrame): Promise<Outcome> => {
    try {
      const result = await deps.commands.markRead(frame.roomId, frame.upToSeq, actor(connection));
      // Nothing new was read, so no event will come: answer this connection with where it stands.
      if (!result.changed) {
        const upToSeq = result.room.lastReadSeq[connection.userId] ?? 0;
        connection.send({ type: 'read', roomId: frame.roomId, userId: connection.userId, upToSeq });
      }
      return 'applied';
    } catch (error) {
      answerError(connection, error, refOfFrame(frame));
      return 'refused';
    }
  };

  const typing = async (connection: Connection, frame: TypingFrame): Promise<Outcome> => {
    try {
      await sendTyping(deps, frame.roomId, connection.userId);
      return 'applied';
    } catch (error) {
      answerError(connection, error, refOfFrame(frame));
      return 'refused';
    }
  };

  const resume = async (connection: Connection, frame: ResumeFrame): Promise<void> => {
    try {
      const lastSeq = await resumeRoom({ queries: deps.queries, livePushed: deps.livePushed, turns: deps.replayTurns }, connection, frame.roomId, frame.afterSeq);
      if (lastSeq !== null) connection.send({ type: 'resumed', roomId: frame.roomId, lastSeq, ...refTo(frame) });
    } catch (error) {
      const apiError = toApiError(error);
      // A replay that broke off leaves the client with a hole it cannot see: close, so it resumes again.
      if (apiError.code === 'internal') connection.fail(error);
      else connection.send(errorFrame(apiError.code, apiError.message, refOfFrame(frame)));
    } finally {
      connection.releaseResumeHold(frame.roomId);
    }
  };

  const auth = async (connection: Connection, frame: AuthFrame): Promise<void> => {
    let principal;
    try {
      principal = await deps.verifier.verify(frame.token);
    } catch (error) {
      if (error instanceof UnavailableError) {
        connection.send(errorFrame('unavailable', error.message, refOfFrame(frame)));
        return;
      }
      connection.send(errorFrame('unauthorized', refusedTokenMessage(error, deps.logger, 'auth frame'), refOfFrame(frame)));
      return;
    }
    if (principal.userId !== connection.userId) {
      connection.close(CloseCode.policyViolation, 'the token is for another user: reconnect with it');
      return;
    }
    connection.replaceToken(principal);
  };

  const ping = async (connection: Connection, frame: ClientFrame): Promise<void> => {
    connection.send({ type: 'pong', ...refTo(frame) });
  };

  // One handler a frame type: a frame without one does not compile (see frameRules.ts for the rest of its row).
  const handlers: {
    readonly [Type in ClientFrameType]: (connection: Connection, frame: Extract<ClientFrame, { type: Type }>, ticket?: SendTicket) => Promise<Outcome | void>;
  } = {
    send,
    read,
    typing,
    resume,
    auth,
    ping,
  };

  /** `ticket`: for a `send`, its admission, told when it is done with (sendAdmission.ts). */
  return async (connection: Connection, frame: ClientFrame, ticket?: SendTicket): Promise<void> => {
    const outcome = await (handlers[frame.type] as (connection: Connection, frame: ClientFrame, ticket?: SendTicket) => Promise<Outcome | void>)(connection, frame, ticket);
    // A frame with no answer of its own (its row's answeredDone) that carried an id: `done` once applied.
    if (outcome === 'applied' && frame.id !== undefined && ruleOf(frame).answeredDone) connection.send({ type: 'done', ref: frame.id });
  };
}

/** A send no admission counts (dispatched without a ticket). */
const untracked: SendTicket = { acked: () => undefined, released: () => undefined };

/** Whether a handler applied its frame or answered it with an error (for `done`, see frameRules.ts). */
type Outcome = 'applied' | 'refused';

export type Dispatcher = ReturnType<typeof makeDispatcher>;
