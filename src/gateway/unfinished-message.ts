// What a WebSocket's message still arriving holds in the gateway's memory, counted in the process's tally of held
// answers (exchange.ts HeldAnswers) as it is read. `ws` keeps every byte of a message until its last one is here and
// tells nothing before: a realtime client could open its account's sessions and in each send 16 MiB of a message it
// never finishes, held until the idle limit (20 sessions: +318 MiB of RSS; an account's 100, some 1.6 GB).
import type { HeldAnswers, HeldRoom } from './exchange.ts';

/**
 * Bytes of a message still arriving never counted: one socket read (net.Socket reads at most 64 KiB), so the events of
 * a session relayed as they come — small, most of them — never touch the tally, and the count's slack (below) is free.
 */
export const UNCOUNTED_BYTES = 64 * 1024;

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

/**
 * One socket's reads since its last whole message: `read` after `ws`'s own reader has seen the bytes (its 'data'
 * listener comes first), `completed` at each message it emits. What `ws` holds of the message under way is at most
 * that — the read that finished the last message counted whole, so at most one read over, never under. Control frames
 * (ping, pong) do not reset it: sent between the fragments of a message they would hide its bytes.
 */
export class UnfinishedMessage extends HeldShare {
  #pending = 0;
  #completed = false;

  read(bytes: number): void {
    if (this.stopped) return;
    this.#pending = this.#completed ? bytes : this.#pending + bytes;
    this.#completed = false;
    const over = this.#pending - UNCOUNTED_BYTES - this.taken;
    if (over > 0) this.takeMore(over);
  }

  completed(): void {
    this.#completed = true;
    if (this.taken > 0) this.giveBack(this.taken);
  }
}
