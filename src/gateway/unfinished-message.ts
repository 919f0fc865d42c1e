// What a WebSocket's message still arriving holds in the gateway's memory, counted in the process's tally of held
// answers (exchange.ts HeldAnswers) as it is read. `ws` keeps every byte of a message until its last one is here and
// tells nothing before: a realtime client could open its account's sessions and in each send 16 MiB of a message it
// never finishes, held until the idle limit (20 sessions: +318 MiB of RSS; an account's 100, some 1.6 GB).
import { HeldShare } from './held-share.ts';

/**
 * Bytes of a message still arriving never counted: one socket read (net.Socket reads at most 64 KiB), so the events of
 * a session relayed as they come — small, most of them — never touch the tally, and the count's slack (below) is free.
 */
export const UNCOUNTED_BYTES = 64 * 1024;

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
