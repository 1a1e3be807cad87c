/**
 * Random conversations folded through the room decider. Each run opens one room
 * between LENDER and BORROWER, then plays a random mix of sends (client ids from a
 * small pool, so retries are common), reads, blocks and unblocks by either side,
 * expiry checks as the clock moves, reopenings, and the same from a STRANGER.
 * A refusal is a DomainError and records nothing; anything else thrown fails the run.
 *
 * Besides the invariants, the send and expiry checks compare the decider with a small
 * model of the rules built here from the recorded events (not from the decider's state),
 * so a decider that refuses too much is caught as well as one that accepts too much.
 */
import fc from 'fast-check';
import {
  BlockedError,
  InvalidCommandError,
  type RoomCommand,
  roomDecider,
  type RoomEvent,
  RoomExpiredError,
  RoomNotFoundError,
  type RoomState,
} from '../../../src/domain/room';
import { DomainError } from '../../../src/domain/shared/decider';
import { anOpenRoom, at, BORROWER, LENDER, ROOM_ID, STRANGER } from '../../support/builders';

const EMPTY_TTL_MS = 1_000;
const IDLE_TTL_MS = 5_000;
const NUM_RUNS = 300;

type Action =
  | { kind: 'open'; borrowerId: string }
  | { kind: 'send'; senderId: string; clientMessageId: string; body: string }
  | { kind: 'read'; userId: string; upToSeq: number }
  | { kind: 'block' | 'unblock' | 'reopen'; userId: string }
  | { kind: 'expire' };
type Step = { advanceMs: number; action: Action };

const VALID_BODIES = ['hi', '  ', 'ok 👍', '😀'.repeat(4000)];
const INVALID_BODIES = ['', 'a\u0000b', 'broken \uD83D', 'x'.repeat(4001)];
const VALID_CLIENT_IDS = ['c-1', 'c-2', 'c-3', 'c-4'];

// Mostly the two participants, sometimes a stranger.
const anyone = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(LENDER, BORROWER) },
  { weight: 1, arbitrary: fc.constant(STRANGER) },
);
const body = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...VALID_BODIES) }, { weight: 1, arbitrary: fc.constantFrom(...INVALID_BODIES) });
// A small pool, so the same (sender, clientMessageId) comes back often; '' is refused.
const clientMessageId = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...VALID_CLIENT_IDS) }, { weight: 1, arbitrary: fc.constant('') });
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('send' as const), senderId: anyone, clientMessageId, body }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), userId: anyone, upToSeq: fc.integer({ min: -1, max: 10 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('block' as const, 'unblock' as const), userId: anyone }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reopen' as const), userId: anyone }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('open' as const), borrowerId: anyone }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'expire' as const }) },
);
// The clock mostly stands still or ticks, sometimes lands right on a TTL, now and then jumps far.
const advanceMs = fc.oneof(
  { weight: 6, arbitrary: fc.constant(0) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 100 }) },
  { weight: 1, arbitrary: fc.constantFrom(EMPTY_TTL_MS - 1, EMPTY_TTL_MS, IDLE_TTL_MS - 1, IDLE_TTL_MS) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 * IDLE_TTL_MS }) },
);
const conversation = fc.array(fc.record({ advanceMs, action }), { minLength: 1, maxLength: 60, size: 'max' });

function toCommand(a: Action, now: Date, i: number): RoomCommand {
  const roomId = ROOM_ID;
  switch (a.kind) {
    case 'open':
      return anOpenRoom({ borrowerId: a.borrowerId, now });
    case 'send':
      return { type: 'SendMessage', data: { roomId, senderId: a.senderId, clientMessageId: a.clientMessageId, body: a.body, messageId: `m-${i}`, now } };
    case 'read':
      return { type: 'MarkRead', data: { roomId, userId: a.userId, upToSeq: a.upToSeq, now } };
    case 'block':
      return { type: 'BlockParticipant', data: { roomId, userId: a.userId, now } };
    case 'unblock':
      return { type: 'UnblockParticipant', data: { roomId, userId: a.userId, now } };
    case 'reopen':
      return { type: 'ReopenRoom', data: { roomId, userId: a.userId, now } };
    case 'expire':
      return { type: 'ExpireRoom', data: { roomId, emptyTtlMs: EMPTY_TTL_MS, idleTtlMs: IDLE_TTL_MS, now } };
  }
}

const sendKey = (senderId: string, clientMessageId: string) => JSON.stringify([senderId, clientMessageId]);
const messagesIn = (events: readonly RoomEvent[]) => events.flatMap((e) => (e.type === 'MessageSent' ? [e.data] : []));

/** The rules as this test reads them, kept from the recorded events alone. */
interface Model {
  status: 'none' | 'open' | 'expired';
  participants: string[];
  blocked: Set<string>;
  sent: Set<string>;
  lastSeq: number;
  activeSinceMs: number;
  lastMessageMs: number | null;
  messageSinceActive: boolean;
}

function record(m: Model, e: RoomEvent): void {
  switch (e.type) {
    case 'RoomOpened':
      Object.assign(m, { status: 'open', participants: [e.data.lenderId, e.data.borrowerId], activeSinceMs: Date.parse(e.data.openedAt) });
      return;
    case 'RoomReopened':
      Object.assign(m, { status: 'open', activeSinceMs: Date.parse(e.data.reopenedAt), messageSinceActive: false });
      return;
    case 'RoomExpired':
      m.status = 'expired';
      return;
    case 'RoomBlocked':
      m.blocked.add(e.data.blockedId);
      return;
    case 'RoomUnblocked':
      m.blocked.delete(e.data.unblockedId);
      return;
    case 'MessageSent':
      m.sent.add(sendKey(e.data.senderId, e.data.clientMessageId));
      Object.assign(m, { lastSeq: e.data.seq, lastMessageMs: Date.parse(e.data.sentAt), messageSinceActive: true });
      return;
    case 'MessagesRead':
      return;
  }
}

interface Turn {
  command: RoomCommand;
  /** The model before the command, a copy. */
  model: Model;
  /** The decider's state before the command, a copy. */
  before: RoomState;
  /** The state object decide was handed, as it was once decide returned or threw. */
  after: RoomState;
  /** The events decided, or undefined when the command was refused. */
  decided: RoomEvent[] | undefined;
  refusal: DomainError | undefined;
}

/** Plays the conversation after the borrower opens the room; returns every turn and the recorded stream. */
function play(steps: readonly Step[]): { turns: Turn[]; stream: RoomEvent[] } {
  let state = roomDecider.initialState();
  const model: Model = {
    status: 'none',
    participants: [],
    blocked: new Set(),
    sent: new Set(),
    lastSeq: 0,
    activeSinceMs: 0,
    lastMessageMs: null,
    messageSinceActive: false,
  };
  let clock = 0;
  const stream: RoomEvent[] = [];
  const turns: Turn[] = [];
  const opening: Step = { advanceMs: 0, action: { kind: 'open', borrowerId: BORROWER } };
  for (const [i, step] of [opening, ...steps].entries()) {
    clock += step.advanceMs;
    const command = toCommand(step.action, at(clock), i);
    const before = structuredClone(state);
    let decided: RoomEvent[] | undefined;
    let refusal: DomainError | undefined;
    try {
      decided = roomDecider.decide(command, state);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      refusal = error;
    }
    turns.push({ command, model: structuredClone(model), before, after: state, decided, refusal });
    for (const event of decided ?? []) {
      stream.push(event);
      record(model, event);
      state = roomDecider.evolve(state, event);
    }
  }
  return { turns, stream };
}

const forEveryConversation = (check: (played: ReturnType<typeof play>) => void) =>
  fc.assert(
    fc.property(conversation, (steps) => check(play(steps))),
    { numRuns: NUM_RUNS },
  );

describe('room decider over random conversations', () => {
  it('numbers the messages of a room 1, 2, 3, … with no gap and no repeat, across expiry and reopening', () => {
    forEveryConversation(({ stream }) => {
      expect(messagesIn(stream).map((m) => m.seq)).toEqual(messagesIn(stream).map((_, i) => i + 1));
    });
  });

  it('records at most one message per sender and clientMessageId', () => {
    forEveryConversation(({ stream }) => {
      const keys = messagesIn(stream).map((m) => sendKey(m.senderId, m.clientMessageId));
      expect(new Set(keys).size).toBe(keys.length);
    });
  });

  it('answers a retry of an accepted message with nothing new, even after expiry or a block', () => {
    forEveryConversation(({ turns }) => {
      for (const { command, model, decided, refusal } of turns) {
        if (command.type !== 'SendMessage' || !model.sent.has(sendKey(command.data.senderId, command.data.clientMessageId))) continue;
        expect(refusal).toBeUndefined();
        expect(decided).toEqual([]);
      }
    });
  });

  it('leaves no trace of a refused command: no event, and the room as it was', () => {
    forEveryConversation(({ turns }) => {
      for (const { before, after, decided, refusal } of turns) {
        if (refusal === undefined) continue;
        expect(decided).toBeUndefined();
        expect(after).toEqual(before);
      }
    });
  });

  it('refuses anything a stranger tries in the room as "not found"', () => {
    forEveryConversation(({ turns }) => {
      for (const { command, model, refusal } of turns) {
        // The scheduler's expiry and the marketplace's notices have no participant acting.
        if (
          command.type === 'ExpireRoom' ||
          command.type === 'ElapseRetention' ||
          command.type === 'PostNotice' ||
          command.type === 'ReportMessage' ||
          command.type === 'ResolveReport' ||
          (command.type === 'OpenRoom' && model.status === 'none')
        ) continue;
        // Opening is get-or-open: once the room exists, only its own borrower may open it again.
        const actor =
          command.type === 'SendMessage' ? command.data.senderId : command.type === 'OpenRoom' ? command.data.borrowerId : command.data.userId;
        if (model.participants.includes(actor)) continue;
        expect(refusal).toBeInstanceOf(RoomNotFoundError);
      }
    });
  });

  it('records a participant\'s new, valid message with the next seq, unless the room has expired or they are blocked', () => {
    forEveryConversation(({ turns }) => {
      for (const { command, model, decided, refusal } of turns) {
        if (command.type !== 'SendMessage') continue;
        const c = command.data;
        if (!model.participants.includes(c.senderId) || model.sent.has(sendKey(c.senderId, c.clientMessageId))) continue;
        // Every reason that applies; when several do, the decider may name any one of them.
        const reasons = [
          ...(VALID_CLIENT_IDS.includes(c.clientMessageId) ? [] : [InvalidCommandError]),
          ...(VALID_BODIES.includes(c.body) ? [] : [InvalidCommandError]),
          ...(model.status === 'expired' ? [RoomExpiredError] : []),
          ...(model.blocked.has(c.senderId) ? [BlockedError] : []),
        ];
        if (reasons.length > 0) {
          expect(decided).toBeUndefined();
          expect(reasons.some((reason) => refusal instanceof reason)).toBe(true);
        } else {
          expect(refusal).toBeUndefined();
          expect(decided).toEqual([
            {
              type: 'MessageSent',
              data: {
                roomId: ROOM_ID,
                messageId: c.messageId,
                seq: model.lastSeq + 1,
                senderId: c.senderId,
                body: c.body,
                clientMessageId: c.clientMessageId,
                sentAt: c.now.toISOString(),
              },
            },
          ]);
        }
      }
    });
  });

  it('expires an open room exactly when its empty-room or idle TTL has run out, and never twice', () => {
    forEveryConversation(({ turns }) => {
      for (const { command, model, decided } of turns) {
        if (command.type !== 'ExpireRoom') continue;
        const now = command.data.now.getTime();
        const reason = !model.messageSinceActive ? 'empty' : 'idle';
        const due = reason === 'empty' ? now - model.activeSinceMs >= EMPTY_TTL_MS : now - (model.lastMessageMs ?? 0) >= IDLE_TTL_MS;
        const expired = { type: 'RoomExpired', data: { roomId: ROOM_ID, reason, expiredAt: command.data.now.toISOString() } };
        expect(decided).toEqual(model.status === 'open' && due ? [expired] : []);
      }
    });
  });
});
