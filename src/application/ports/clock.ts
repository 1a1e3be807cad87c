/** Time is a port so tests drive it instead of sleeping through TTLs. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
