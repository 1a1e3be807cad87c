import { randomIds } from '../../../src/application/ports/ids';
import type { Logger } from '../../../src/application/ports/logger';
import { silentLogger } from '../../../src/application/ports/logger';
import { sweepExpiredRooms, type SweepResult } from '../../../src/application/room/sweepExpiredRooms';
import { ExpirySweeper } from '../../../src/infrastructure/scheduler/expirySweeper';
import { databaseKinds } from '../../support/databases';
import { eventually } from '../../support/http';
import { openRoomHarness, type RoomHarness, ttl } from '../../support/roomHarness';

/**
 * The node-schedule adapter, on real time: an every-second cron, so each case waits a
 * few seconds at most.
 */
const EVERY_SECOND = '* * * * * *';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const aResult = (overrides: Partial<SweepResult> = {}): SweepResult => ({
  correlationId: 'c',
  examined: 0,
  expired: 0,
  kept: 0,
  failed: 0,
  aborted: false,
  ...overrides,
});

function recordingLogger() {
  const lines: { level: string; fields: object; message: string }[] = [];
  const at =
    (level: string) =>
    (fields: object, message: string): void => {
      lines.push({ level, fields, message });
    };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return { logger, lines };
}

describe('ExpirySweeper (node-schedule)', () => {
  let sweeper: ExpirySweeper | null = null;
  afterEach(async () => {
    await sweeper?.stop();
    sweeper = null;
  });

  it('runs the sweep on its cron, and not after stop()', async () => {
    const runs: number[] = [];
    sweeper = new ExpirySweeper({
      cron: EVERY_SECOND,
      logger: silentLogger,
      sweep: async () => {
        runs.push(Date.now());
        return aResult();
      },
    });
    sweeper.start();

    await eventually(async () => runs.length >= 2, 4_500, 'two sweeps on an every-second cron');
    expect((runs[1] as number) - (runs[0] as number)).toBeGreaterThanOrEqual(900);

    await sweeper.stop();
    const after = runs.length;
    await pause(1_300);
    expect(runs).toHaveLength(after);
  });

  it('never runs two sweeps at once: a tick during a long sweep is skipped, and logged', async () => {
    const { logger, lines } = recordingLogger();
    let inFlight = 0;
    let most = 0;
    let runs = 0;
    sweeper = new ExpirySweeper({
      cron: EVERY_SECOND,
      logger,
      sweep: async () => {
        runs += 1;
        inFlight += 1;
        most = Math.max(most, inFlight);
        await pause(2_200);
        inFlight -= 1;
        return aResult();
      },
    });
    sweeper.start();

    await eventually(async () => lines.some((l) => l.message.includes('skipped')), 4_500, 'a skipped tick');
    expect(most).toBe(1);
    expect(sweeper.busy).toBe(true);
    expect(runs).toBe(1);
    expect(lines.find((l) => l.message.includes('skipped'))?.level).toBe('warn');
  });

  it('logs a failed sweep and sweeps again on the next tick', async () => {
    const { logger, lines } = recordingLogger();
    let runs = 0;
    sweeper = new ExpirySweeper({
      cron: EVERY_SECOND,
      logger,
      sweep: async () => {
        runs += 1;
        if (runs === 1) throw new Error('database unreachable');
        return aResult({ examined: 3, expired: 2, kept: 0, failed: 1 });
      },
    });
    sweeper.start();

    await eventually(async () => runs >= 2 && !sweeper?.busy, 4_500, 'a second sweep');
    const failed = lines.find((l) => l.level === 'error');
    expect(failed?.message).toMatch(/expiry sweep failed/);
    expect((failed?.fields as { err: Error }).err.message).toBe('database unreachable');
    // A sweep in which some rooms failed is a warning with its counts.
    expect(lines.find((l) => l.level === 'warn')?.fields).toMatchObject({ examined: 3, expired: 2, failed: 1 });
  });

  it('stop() asks a running sweep to stop and resolves once it has', async () => {
    let sawAbort = false;
    let finished = false;
    sweeper = new ExpirySweeper({
      cron: '0 0 1 1 *',
      logger: silentLogger,
      sweep: async (signal) => {
        while (!signal.aborted) await pause(10);
        sawAbort = true;
        await pause(50);
        finished = true;
        return aResult({ aborted: true });
      },
    });
    sweeper.start();
    const running = sweeper.runOnce();
    await pause(30);

    await sweeper.stop();

    expect(sawAbort).toBe(true);
    expect(finished).toBe(true);
    expect(await running).toMatchObject({ aborted: true });
    expect(await sweeper.runOnce()).toBeNull();
    expect(() => sweeper?.start()).toThrow(/stopped/);
  });
});

describe.each(databaseKinds)('ExpirySweeper on its cron over %s', (kind) => {
  let l: RoomHarness;
  beforeAll(async () => {
    l = await openRoomHarness(kind);
  });
  afterAll(async () => {
    await l?.close();
  });

  it('expires a due room with no one calling it', async () => {
    const { roomId } = await l.anOpenRoom();
    l.clock.advance(ttl.emptyTtlMs);
    await l.settle();
    const results: SweepResult[] = [];
    const sweeper = new ExpirySweeper({
      cron: EVERY_SECOND,
      logger: silentLogger,
      sweep: async (signal) => {
        const result = await sweepExpiredRooms(
          { queries: l.queries, commands: l.commands, clock: l.clock, ids: randomIds, logger: silentLogger },
          { ttl, signal },
        );
        results.push(result);
        return result;
      },
    });
    sweeper.start();
    try {
      await eventually(async () => (await l.types(roomId)).includes('RoomExpired'), 4_500, 'the room to expire');
    } finally {
      await sweeper.stop();
    }
    expect(results.reduce((n, r) => n + r.expired, 0)).toBe(1);
    expect(await l.types(roomId)).toEqual(['RoomOpened', 'RoomExpired']);
  });
});
