import type { MessageView } from '../../domain/room';
import type { SendTicket } from './sendAdmission';

/** A `send` frame waiting for its ack. */
export interface PendingSend {
  acked: boolean;
  /** The send frame's `id`, named as `ref` by its ack; null when it had none. */
  ref: string | null;
  timer: NodeJS.Timeout | null;
  /** Whoever counts the send (the gateway's admission), told once it is acked or dropped; null: nobody. */
  ticket: SendTicket | null;
}

/** Marks a send acked (its ack is being written) and tells whoever counts it. */
export function markAcked(send: PendingSend): void {
  send.acked = true;
  send.ticket?.acked();
}

/** The send will get no ack here (its connection is gone): tells whoever counts it. */
export function markDropped(send: PendingSend): void {
  send.ticket?.released();
}

/**
 * One connection's sends that await their ack, by (room, clientMessageId). A send is
 * registered before its command runs, so its event is recognised however early the
 * live side hands it over; the event then becomes this connection's `ack` (in its place
 * among the room's messages) instead of a `message` frame.
 */
export class PendingAcks {
  private readonly pending = new Map<string, PendingSend[]>();

  expect(roomId: string, clientMessageId: string, ref: string | null = null, ticket: SendTicket | null = null): PendingSend {
    const send: PendingSend = { acked: false, ref, timer: null, ticket };
    const key = keyOf(roomId, clientMessageId);
    const list = this.pending.get(key);
    if (list === undefined) this.pending.set(key, [send]);
    else list.push(send);
    return send;
  }

  /** The send failed, or was answered directly: nothing more will be acked for it. */
  cancel(roomId: string, clientMessageId: string, send: PendingSend): void {
    const key = keyOf(roomId, clientMessageId);
    const list = this.pending.get(key)?.filter((s) => s !== send);
    if (list === undefined || list.length === 0) this.pending.delete(key);
    else this.pending.set(key, list);
  }

  /** The sends this message answers (removed from waiting); empty when it is not one of ours. */
  take(message: MessageView): PendingSend[] {
    const key = keyOf(message.roomId, message.clientMessageId);
    const waiting = this.pending.get(key);
    if (waiting === undefined) return [];
    this.pending.delete(key);
    for (const send of waiting) if (send.timer !== null) clearTimeout(send.timer);
    return waiting;
  }

  /** Sends registered and not yet acked. */
  get unanswered(): number {
    let count = 0;
    for (const list of this.pending.values()) for (const send of list) if (!send.acked) count += 1;
    return count;
  }

  /** Stops every fallback timer and lets go of every send (the connection is closing: no answer will reach it). */
  clear(): void {
    for (const list of this.pending.values()) {
      for (const send of list) {
        if (send.timer !== null) clearTimeout(send.timer);
        markDropped(send);
      }
    }
    this.pending.clear();
  }
}

function keyOf(roomId: string, clientMessageId: string): string {
  return `${roomId}\u0000${clientMessageId}`;
}
