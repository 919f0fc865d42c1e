// One socket's share of the process's tally of held answers (exchange.ts HeldAnswers): what a realtime session's
// messages hold in memory, still arriving (unfinished-message.ts) or waiting for a slow reader (queued-messages.ts).
import type { HeldAnswers, HeldRoom } from './exchange.ts';

/**
 * Bytes one socket's messages hold in the tally for `account`: counted as they are taken, given back, and all given
 * back when the socket is gone. `full` is called once when bytes would cross the tally's limit or the account's
 * share; nothing more is counted after.
 */
export class HeldShare {
  readonly #tally: HeldAnswers;
  readonly #account: string;
  readonly #full: (room: HeldRoom) => void;
  protected taken = 0;
  protected stopped = false;

  constructor(tally: HeldAnswers, account: string, full: (room: HeldRoom) => void) {
    this.#tally = tally;
    this.#account = account;
    this.#full = full;
  }

  /** Counts `over` more bytes: false, and `full` called, when they cannot be held. */
  protected takeMore(over: number): boolean {
    const taken = this.#tally.take(this.#account, over);
    if (taken === 'taken') {
      this.taken += over;
      return true;
    }
    this.stopped = true;
    this.#full(taken);
    return false;
  }

  /** Gives back `bytes` of what is counted. */
  protected giveBack(bytes: number): void {
    this.#tally.give(this.#account, bytes);
    this.taken -= bytes;
  }

  /** The socket is gone (or the session over): what it counted leaves the tally, and nothing more is counted. */
  release(): void {
    this.stopped = true;
    this.giveBack(this.taken);
  }

  /** Bytes of this socket's in the tally now. */
  get counted(): number {
    return this.taken;
  }
}
