import { ConfigError, loadConfig } from '../../../src/config';
import { isValidCron } from '../../../src/infrastructure/scheduler/cron';

describe('isValidCron', () => {
  it.each(['* * * * *', '* * * * * *', '*/5 * * * *', '0 3 * * 1-5', '30 */2 * * * *', '@hourly', '  * * * * *  '])(
    'accepts the recurring schedule %j',
    (cron) => expect(isValidCron(cron)).toBe(true),
  );

  it.each([
    ['prose', 'every minute'],
    ['a minute past 59', '61 * * * *'],
    ['a day of week past 7', '0 0 * * 8'],
    ['four fields, which node-schedule would pad', '* * * *'],
    ['one field, which node-schedule would pad', '1'],
    ['seven fields', '* * * * * * *'],
    ['a date, which node-schedule would run once', 'Dec 17 2099 10:00:00 GMT'],
    ['an ISO date', '2099-01-01'],
    ['a date that never comes', '0 0 30 2 *'],
    ['nothing', '   '],
  ])('refuses %s (%j)', (_why, cron) => expect(isValidCron(cron)).toBe(false));
});

describe('loadConfig: room TTLs and the sweep schedule', () => {
  const refusal = (env: Record<string, string>): ConfigError => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error('the configuration was accepted');
  };

  it('defaults to an empty TTL of 1h, an idle TTL of 30d, and a sweep every minute', () => {
    const config = loadConfig({});
    expect(config.roomEmptyTtlMs).toBe(3_600_000);
    expect(config.roomIdleTtlMs).toBe(30 * 86_400_000);
    expect(config.expirySweepCron).toBe('* * * * *');
  });

  it('reads the TTLs and the cron it is given', () => {
    const config = loadConfig({ ROOM_EMPTY_TTL: '90s', ROOM_IDLE_TTL: '36500d', EXPIRY_SWEEP_CRON: '*/10 * * * * *' });
    expect(config).toMatchObject({ roomEmptyTtlMs: 90_000, roomIdleTtlMs: 36_500 * 86_400_000, expirySweepCron: '*/10 * * * * *' });
  });

  it.each([
    ['ROOM_EMPTY_TTL', '0s'],
    ['ROOM_EMPTY_TTL', '-5m'],
    ['ROOM_EMPTY_TTL', '1.5h'],
    ['ROOM_EMPTY_TTL', '10 minutes'],
    ['ROOM_EMPTY_TTL', '36501d'],
    ['ROOM_IDLE_TTL', '1w'],
    ['ROOM_IDLE_TTL', '99999999999d'],
    ['ROOM_IDLE_TTL', '30d\nEVIL=1'],
    ['EXPIRY_SWEEP_CRON', '61 * * * *'],
    ['EXPIRY_SWEEP_CRON', '* * * *'],
    ['EXPIRY_SWEEP_CRON', 'Dec 17 2099 10:00:00 GMT'],
    ['EXPIRY_SWEEP_CRON', '* * * * *\n* * * * *'],
  ])('stops start-up on %s=%j with one line naming it', (variable, value) => {
    const refused = refusal({ [variable]: value });
    expect(refused.variable).toBe(variable);
    expect(refused.message).toMatch(new RegExp(`^configuration error: ${variable} `));
    expect(refused.message).not.toMatch(/\n/);
  });
});
