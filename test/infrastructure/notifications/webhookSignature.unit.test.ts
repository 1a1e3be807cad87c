import { Webhook } from 'standardwebhooks';
import { webhookHeaders } from '../../../src/infrastructure/notifications/webhookSignature';

describe('the Standard Webhooks signature', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

  it('matches the specification’s reference implementation, for any body', () => {
    for (const body of ['{}', '{"text":"Grüße, 👋"}', JSON.stringify({ a: 'x'.repeat(10_000) })]) {
      const headers = webhookHeaders(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', body, new Date());
      expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    }
  });

  it('is refused by a receiver when the timestamp is outside its tolerance (replays)', () => {
    const body = '{"type":"room.opened"}';
    const headers = webhookHeaders(secret, 'msg_1', body, new Date(Date.now() - 10 * 60_000));
    expect(() => new Webhook(secret).verify(body, headers)).toThrow(/too old/);
  });

  it('gives the signature the specification’s own example gives', () => {
    // The example from the Standard Webhooks specification.
    const headers = webhookHeaders(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', '{"test": 2432232314}', new Date(1614265330 * 1000));
    expect(headers['webhook-signature']).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });
});
