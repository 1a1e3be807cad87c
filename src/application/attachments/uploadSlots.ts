import { UnavailableError } from '../unavailable';

/** Every upload slot of this process is taken: nothing was read, try again shortly. */
export class UploadsBusyError extends UnavailableError {
  constructor(limit: number) {
    super(`the server is taking as many uploads as it handles at once (${limit}); nothing was stored, try again in a moment`, 2);
  }
}

/**
 * How many uploads this process handles at once (ATTACHMENT_UPLOADS_AT_ONCE), from
 * admission to answer. Each holds its body in memory and waits its turn at the image
 * workers, so past the bound more uploads only mean more memory and a longer queue, and
 * the chat pays for both; the next one is refused before its body is read.
 */
export class UploadSlots {
  private taken = 0;

  constructor(readonly limit: number) {}

  /** A slot, with the function that gives it back (once, however often it is called); throws UploadsBusyError when none is free. */
  take(): () => void {
    if (this.taken >= this.limit) throw new UploadsBusyError(this.limit);
    this.taken += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.taken -= 1;
    };
  }

  get inUse(): number {
    return this.taken;
  }
}
