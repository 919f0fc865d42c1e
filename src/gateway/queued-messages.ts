// What a realtime session's relayed messages hold in the gateway's memory while their reader is slow to take them
// (ws's bufferedAmount of the socket they go to), counted in the process's tally of held answers (exchange.ts
// HeldAnswers) past a free allowance. The relay pauses the other side once 4 MiB wait, but the message that crosses
// that still goes, and a message is up to 16 MiB: a client that never reads, asking the provider to echo a large item
// back, had its session hold some 20 MiB and its account's 100 sessions about 2 GB, counted nowhere.
import { HeldShare } from './held-share.ts';

/** Bytes waiting for a reader never counted: a reader keeping up holds less, and its relay never touches the tally. */
export const FREE_QUEUED_BYTES = 64 * 1024;

/** One direction of a session: what waits for its reader past FREE_QUEUED_BYTES, as the tally counts it. */
export class QueuedMessages extends HeldShare {
  /** A message about to be sent, `queued` bytes waiting with it: false when they cannot be held (`full` was called). */
  hold(queued: number): boolean {
    if (this.stopped) return false;
    const over = queued - FREE_QUEUED_BYTES - this.taken;
    return over <= 0 || this.takeMore(over);
  }

  /** A send completed, `queued` bytes waiting still: what no longer waits past the allowance leaves the tally. */
  sent(queued: number): void {
    const keep = Math.max(0, queued - FREE_QUEUED_BYTES);
    if (keep < this.taken) this.giveBack(this.taken - keep);
  }
}
