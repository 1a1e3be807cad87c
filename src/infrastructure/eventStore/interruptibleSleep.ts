/**
 * A pause that `wake()` cuts short: subscription loops wait on it between polls and
 * retries, and a notification or `stop()` ends the wait at once. `skip` is asked when
 * a pause starts: true resolves it straight away (a wake-up came in while busy).
 */
export function interruptibleSleep(skip: () => boolean): { sleep(ms: number): Promise<void>; wake(): void } {
  let wakeUp: (() => void) | null = null;
  return {
    sleep: (ms) =>
      new Promise((resolve) => {
        if (skip()) return resolve();
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          wakeUp = null;
          resolve();
        }
        wakeUp = done;
      }),
    wake: () => wakeUp?.(),
  };
}
