// Frames between a session's client and its provider: the limits on them (a message's size, what may wait for a slow
// reader), the close codes a session ends with, and what `ws` says of a frame it refused.
import { WebSocket } from 'ws';
import { FREE_QUEUED_BYTES, type QueuedMessages } from '../queued-messages.ts';

/**
 * The longest message relayed either way. OpenAI's own events are small but for audio appended in one piece (base64,
 * 15 MiB of it is some five minutes of 24 kHz PCM): a single message past this ends the session rather than be held.
 * What all messages still arriving hold at once counts in the process's held answers (UnfinishedMessage).
 */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** How long a closing handshake may take before the socket is dropped. */
const CLOSE_WAIT_MS = 1000;
/** Bytes waiting for a slow reader before the other side is paused (no session is ever held whole). */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;

/**
 * Close codes (RFC 6455 §7.4): a limit ended the session; the gateway is stopping; the provider failed; the gateway
 * could not hold a message beside the others it holds (1013 "Try Again Later", as the 503 it tells).
 */
export const CLOSE_POLICY = 1008;
export const CLOSE_RESTART = 1012;
export const CLOSE_UPSTREAM = 1011;
export const CLOSE_BUSY = 1013;
/** The client's message was over MAX_MESSAGE_BYTES: "Message Too Big", the code `ws` closes with itself. */
export const CLOSE_TOO_BIG = 1009;
/** `ws`'s errors for a message over its `maxPayload`, and for a frame whose header says more than 2^53 - 1 bytes. */
const MESSAGE_TOO_LONG = 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
const FRAME_TOO_LONG = 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH';
/** A frame that breaks the protocol (RFC 6455 §7.4.1), when `ws` does not say its own close code (brokenFrame). */
const CLOSE_PROTOCOL = 1002;

export function validCloseCode(code: number): boolean {
  return (code >= 3000 && code <= 4999) || (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006);
}

/**
 * Sockets a session no longer reads, for good (#unheld): a relay's drain or a credit check's end (#release) resumes
 * a socket it paused, and `ws` would then take in the rest of the message that could not be held, counted nowhere,
 * until the closing handshake's limit (CLOSE_WAIT_MS) drops the socket — up to MAX_MESSAGE_BYTES a session.
 */
export const unread = new WeakSet<WebSocket>();

/** Reading `socket` again, unless its session stopped reading it for good. */
export function resumeReading(socket: WebSocket): void {
  if (!unread.has(socket)) socket.resume();
}

export type UpstreamFault = 'frame-too-long' | 'provider-protocol-error';

/** A frame `ws` refused for its length: a message over MAX_MESSAGE_BYTES, or a header saying more than 2^53 - 1 bytes. */
export function tooLong(error: Error & { code?: string }): boolean {
  return error.code === MESSAGE_TOO_LONG || error.code === FRAME_TOO_LONG;
}

/**
 * How a provider's frame `ws`'s receiver refused ends the session: over the limit (a message over MAX_MESSAGE_BYTES,
 * or a frame saying more than 2^53 - 1 bytes, as the client's is), or breaking the protocol (any other `WS_ERR_` code:
 * invalid UTF-8, a reserved opcode, a masked frame, an RSV bit, a bad close code). Undefined for any other error: after
 * the handshake, only the receiver's carry those codes.
 */
export function upstreamFault(error: Error & { code?: string }): UpstreamFault | undefined {
  if (tooLong(error)) return 'frame-too-long';
  return error.code?.startsWith('WS_ERR_') ? 'provider-protocol-error' : undefined;
}

/**
 * What `ws`'s receiver says of a frame it refused: its message without ws's prefix ("invalid UTF-8 sequence", "invalid
 * opcode 3"), and the close code it gives it, which ws keeps under a symbol of its own (`kStatusCode`, exported
 * nowhere): the session closes with it before ws would.
 */
export function brokenFrame(error: Error): { reason: string; closeCode: number } {
  const key = Object.getOwnPropertySymbols(error).find((k) => k.description === 'status-code');
  const code = key === undefined ? undefined : (error as unknown as Record<symbol, unknown>)[key];
  return { reason: error.message.replace(/^Invalid WebSocket frame: /, ''), closeCode: typeof code === 'number' ? code : CLOSE_PROTOCOL };
}

/**
 * Sends `data` on, pausing `from` while `to`'s reader lags HIGH_WATER_BYTES behind; what waits for that reader past
 * FREE_QUEUED_BYTES counts in `queue` until it is sent. Not sent when it cannot be held: the session is ending.
 */
export function relay(to: WebSocket, data: Buffer, isBinary: boolean, from: WebSocket, queue: QueuedMessages): void {
  if (to.readyState !== WebSocket.OPEN) return;
  const queued = to.bufferedAmount + data.length;
  if (queued <= FREE_QUEUED_BYTES) {
    to.send(data, { binary: isBinary });
    return;
  }
  if (!queue.hold(queued)) return;
  const pause = queued > HIGH_WATER_BYTES && !from.isPaused;
  if (pause) from.pause();
  to.send(data, { binary: isBinary }, () => {
    queue.sent(to.bufferedAmount);
    if (pause) resumeReading(from);
  });
}

/** A closing handshake, bounded: a peer that never answers it is dropped. */
export function closeSoon(socket: WebSocket, code: number, reason: string): void {
  if (socket.readyState === WebSocket.CLOSED) return;
  if (socket.readyState === WebSocket.OPEN) socket.close(code, Buffer.from(reason).subarray(0, 123));
  else if (socket.readyState === WebSocket.CONNECTING) {
    socket.terminate();
    return;
  }
  setTimeout(() => socket.terminate(), CLOSE_WAIT_MS).unref();
}
