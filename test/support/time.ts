/** Durations in milliseconds, for TTLs, clocks moved by hand and timestamps in builders. */
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
