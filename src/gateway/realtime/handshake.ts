// The provider's side of a session's opening: its WebSocket's URL and headers, one handshake with it, and which of its
// refusals move on to the next credential (RealtimeGateway tries them in turn before the client's upgrade completes).
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, type RawData } from 'ws';
import type { Candidate } from '../../domain/resolve.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import { VIA_HEADER, viaValue } from '../routing-loop.ts';
import { addTraceHeaders, type TraceHeaders } from '../headers.ts';
import type { UnfinishedMessage } from '../unfinished-message.ts';
import { offeredProtocols } from './upgrade.ts';
import { MAX_MESSAGE_BYTES } from './relay.ts';

/** The browser's way to opt in to the older realtime protocol (OpenAI's `openai-beta: realtime=v1` header). */
const BETA_PROTOCOL = 'openai-beta.realtime-v1';

/** Of a provider's refusal of the handshake, this much of its body is passed to the client. */
const REFUSAL_BODY_BYTES = 64 * 1024;

/** A provider's refusal of the handshake that no other credential would change (a 400: the request is wrong): passed on. */
export class ProviderRefusal {
  readonly status: number;
  readonly body: Buffer;
  readonly contentType: string | undefined;
  constructor(status: number, body: Buffer, contentType: string | undefined) {
    this.status = status;
    this.body = body;
    this.contentType = contentType;
  }
}

type Opened = { socket: WebSocket } | { status: number; body: Buffer; contentType: string | undefined } | { error: string };

/** Why a handshake's failure moves on to the next credential, as an HTTP attempt's does (attempt.ts failureOf). */
export function failsOver(status: number): boolean {
  return status === 401 || status === 402 || status === 403 || status === 404 || status === 408 || status === 429 || (status >= 500 && status !== 508) || (status >= 300 && status < 400);
}

/** The provider's realtime WebSocket: its base URL's `/realtime` with the ws scheme, the upstream model in the query. */
export function upstreamUrl(candidate: Candidate): string {
  const base = (candidate.surface.baseUrl ?? candidate.provider.baseUrl).replace(/\/+$/, '');
  const url = new URL(`${base}${candidate.surface.path}`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('model', candidate.upstreamModelId ?? candidate.modelId);
  return url.href;
}

/**
 * The credential replaces the client's access key; `openai-beta` (the older realtime protocol's opt-in) goes along,
 * from the header or from the browser's `openai-beta.realtime-v1` subprotocol (a browser cannot set headers, and the
 * subprotocol is never passed on: the gateway answers the client's handshake itself).
 */
export function upstreamHeaders(plan: AttemptPlan, clientHeaders: IncomingHttpHeaders, loopId: string, trace: TraceHeaders | undefined): Record<string, string> {
  const headers: Record<string, string> = { [VIA_HEADER]: viaValue(clientHeaders, loopId) };
  if (trace !== undefined) addTraceHeaders(headers, trace);
  const beta = clientHeaders['openai-beta'];
  if (typeof beta === 'string') headers['openai-beta'] = beta;
  else if (offeredProtocols(clientHeaders).includes(BETA_PROTOCOL)) headers['openai-beta'] = 'realtime=v1';
  if (plan.credential) headers.authorization = `Bearer ${plan.credential}`;
  return headers;
}

/** What an open provider socket says, from its first frame on, and the socket being dialled (for a shutdown to abort). */
interface UpstreamListeners {
  onMessage(data: RawData, isBinary: boolean): void;
  /** An error of the open socket's: a frame ws refused. */
  onError(error: Error & { code?: string }): void;
  dialing(socket: WebSocket): void;
}

/**
 * One handshake with the provider. Its messages and its frames ws refuses go to `on` from the first (they may come in
 * the read that carries the 101), so none is lost before the client is attached.
 */
export function openUpstream(url: string, headers: Record<string, string>, timeoutMs: number, on: UpstreamListeners, unfinished: UnfinishedMessage): Promise<Opened> {
  return new Promise((resolve) => {
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, { headers, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false, handshakeTimeout: timeoutMs, followRedirects: false });
    } catch (error) {
      resolve({ error: error instanceof Error ? error.message : String(error) });
      return;
    }
    on.dialing(socket);
    socket.on('message', (data: RawData, isBinary: boolean) => {
      unfinished.completed();
      on.onMessage(data, isBinary);
    });
    let raw: Duplex | undefined;
    socket.once('upgrade', (response: IncomingMessage) => { raw = response.socket; });
    // 'open' comes once `ws` has taken the socket, its own reader first: a read is counted after its messages are out.
    socket.once('open', () => {
      raw?.on('data', (chunk: Buffer) => unfinished.read(chunk.length));
      // ws emits 'open' before it reads what came with the 101: listening now, no frame of it is missed.
      socket.on('error', on.onError);
      resolve({ socket });
    });
    socket.once('close', () => unfinished.release());
    socket.on('error', (error: Error) => {
      // After its receiver's error (as the client's, #start) ws only discards what it reads until the socket closes.
      unfinished.release();
      resolve({ error: error.message });
    });
    socket.once('unexpected-response', (request, response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        resolve({ status: response.statusCode ?? 502, body: Buffer.concat(chunks), contentType: typeof response.headers['content-type'] === 'string' ? response.headers['content-type'] : undefined });
        request.destroy();
      };
      response.on('data', (chunk: Buffer) => {
        if (size >= REFUSAL_BODY_BYTES) return;
        chunks.push(chunk.subarray(0, REFUSAL_BODY_BYTES - size));
        size += chunk.length;
        if (size >= REFUSAL_BODY_BYTES) done();
      });
      response.once('end', done);
      response.once('error', done);
    });
  });
}
