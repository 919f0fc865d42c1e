// Seeing what the gateway writes to one client, whichever path writes it: the access log's bodies
// (TOLLGATE_LOG_BODIES) and request capture both read the answer here rather than in each writing path.
import type { ServerResponse } from 'node:http';

export type WrittenChunk = string | Uint8Array;

/**
 * Calls `seen` with each chunk written to this response (its `write` and `end`; a callback-only call is none), once:
 * node:http2's compatibility response ends with `this.write(chunk)`, which is the end's chunk again. Only this
 * response object is wrapped, so responses nothing taps pay nothing.
 */
export function tapWrites(res: ServerResponse, seen: (chunk: WrittenChunk, res: ServerResponse) => void): void {
  const { write, end } = res;
  let ending = false;
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    const chunk = args[0];
    if (!ending && (typeof chunk === 'string' || chunk instanceof Uint8Array)) seen(chunk, this);
    return Reflect.apply(write, this, args) as boolean;
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    const chunk = args[0];
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) seen(chunk, this);
    ending = true;
    try {
      return Reflect.apply(end, this, args) as ServerResponse;
    } finally {
      ending = false;
    }
  } as ServerResponse['end'];
}
