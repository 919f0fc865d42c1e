// What relaying a server's answer to the client takes: the bounds on what is held of it, waiting for a slow client,
// a server's refusal read for its JSON-RPC error, how an answer ended its call, and an answer restated for a
// stateless client.
import type { Dispatcher } from 'undici';
import { parseMessage, type JsonRpcId, type JsonRpcMessage } from '../../domain/json-rpc.ts';
import { statelessResult } from '../../domain/mcp-stateless.ts';
import type { RequestContext } from '../context.ts';
import type { Call } from './call.ts';

/** Largest message relayed from a server (a JSON answer, one event of a stream): each is held whole to be checked. */
export const MAX_RELAYED_MESSAGE_BYTES = 16 << 20;

/** Why a JSON answer could not be held (HeldAnswers.take): the room answers share, or the account's share of it, was full. */
export const HELD_ANSWERS_FULL = {
  gateway: 'answered while the gateway held as much of other answers as it holds at once; retry the call.',
  account: "answered while this account's other answers held as much as one account's may at once; retry the call.",
} as const;

/** The client took what was written (or left), or the request ended: a client not reading holds nothing up then. */
export function drained(res: RequestContext['res'], signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });
}

/** Largest 4xx answer read for the JSON-RPC error in it. */
const MAX_REFUSAL_CHARS = 64 << 10;

/** The JSON-RPC error to request `id` a server's 4xx answer is, if it is one; the body is read whole either way. */
export async function refusalOf(response: Dispatcher.ResponseData, id: JsonRpcId): Promise<{ code: number; message: string; data?: unknown } | undefined> {
  let text = '';
  try {
    response.body.setEncoding('utf8');
    for await (const chunk of response.body as AsyncIterable<string>) {
      text += chunk;
      if (text.length > MAX_REFUSAL_CHARS) {
        response.body.destroy();
        return undefined;
      }
    }
  } catch {
    return undefined;
  }
  const m = parseMessage(text);
  const error = m?.method === undefined && m?.id === id ? m.error : undefined;
  if (!error || !Number.isInteger(error.code) || typeof error.message !== 'string') return undefined;
  return error.data === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, data: error.data };
}

/** How a server's answer ended its call, for the call's span: its JSON-RPC error code, `tool_error` (isError), or nothing. */
export function outcomeOf(m: JsonRpcMessage): number | 'tool_error' | undefined {
  return m.error ? m.error.code : m.result?.isError === true ? 'tool_error' : undefined;
}

/** A server's answer relayed to a stateless client: a 2025 server's result given what the revision requires of one. */
export function restated(call: Call, m: JsonRpcMessage): string {
  return JSON.stringify(m.result !== undefined ? { ...m, result: statelessResult(call.message.method, m.result) } : m);
}
