import { SendAdmission, type SendTicket } from '../../../src/interfaces/ws/sendAdmission';

const clock = () => {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

const limits = { maxInHand: 10, targetWaitMs: 200, minInHandToShed: 4, windowMs: 100 };

const admitMany = (admission: SendAdmission, n: number): Array<SendTicket | null> => Array.from({ length: n }, () => admission.admit());

describe('SendAdmission', () => {
  it('takes sends up to the bound in hand, and one more for each done with, once however often it is told', () => {
    const admission = new SendAdmission(limits, clock().now);
    const tickets = admitMany(admission, 12);
    expect(tickets.filter((t) => t !== null)).toHaveLength(10);
    tickets[0]?.acked();
    tickets[0]?.acked();
    tickets[0]?.released();
    expect(admitMany(admission, 2).filter((t) => t !== null)).toHaveLength(1);
  });

  it('refuses new sends while even the quickest ack of a window waited past the target, and takes them again once acks are quick', () => {
    const time = clock();
    const admission = new SendAdmission(limits, time.now);
    const backlog = admitMany(admission, 8) as SendTicket[];
    time.advance(250);
    // A window whose acks all waited 250 ms: the queue stands.
    backlog[0]?.acked();
    backlog[1]?.acked();
    time.advance(100);
    expect(admission.admit()).toBeNull();
    expect(admission.shedding).toBe(true);
    // The backlog drains below the minimum in hand: sends are taken, and acked quickly.
    for (const ticket of backlog.slice(2, 6)) ticket.acked();
    const fresh = admission.admit() as SendTicket;
    expect(fresh).not.toBeNull();
    time.advance(10);
    fresh.acked();
    time.advance(100);
    expect(admitMany(admission, 5).every((t) => t !== null)).toBe(true);
    expect(admission.shedding).toBe(false);
  });

  it('sheds nothing for slow acks with fewer sends in hand than the minimum (a lone pause)', () => {
    const time = clock();
    const admission = new SendAdmission(limits, time.now);
    const slow = admitMany(admission, 3) as SendTicket[];
    time.advance(1_000);
    slow[0]?.acked();
    time.advance(100);
    expect(admission.admit()).not.toBeNull();
  });

  it('does not let quick refusals hide a queue that stands: only acks are timed', () => {
    const time = clock();
    const admission = new SendAdmission(limits, time.now);
    const backlog = admitMany(admission, 8) as SendTicket[];
    time.advance(90);
    backlog[0]?.acked();
    time.advance(160);
    // A window whose one ack waited 250 ms (the one before it drained quickly enough)...
    backlog[1]?.acked();
    // ...and a send refused at once (over the user's budget): done with, but no sign of a short queue.
    const refused = admission.admit() as SendTicket;
    time.advance(1);
    refused.released();
    time.advance(100);
    expect(admission.admit()).toBeNull();
  });

  it('takes a burst that no ack drains for longer than the target as a standing queue, and only then', () => {
    const time = clock();
    const admission = new SendAdmission(limits, time.now);
    // Idle for a long time first: that is not waiting.
    time.advance(60_000);
    admitMany(admission, 6);
    time.advance(150);
    expect(admission.admit()).not.toBeNull();
    time.advance(100);
    expect(admission.admit()).toBeNull();
  });
});
