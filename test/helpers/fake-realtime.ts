// A fake OpenAI Realtime server on loopback, speaking the real event shapes: `session.created` on connect, and for
// each `response.create` a `response.created`, a `rate_limits.updated` (the credential's, counting its responses in
// every session), an audio delta (base64 in JSON, as OpenAI sends audio) and a `response.done` carrying usage. A
// response whose instructions are "hold" stays open until `response.cancel`, then ends `cancelled` with the usage
// generated so far — or never, when they are "hang"; "drop" sends its transcript
// (FAKE_DROPPED_TRANSCRIPT) and a second of audio, then closes the socket (1011) without ever reporting the response;
// "huge" sends a 17 MiB audio delta; "flood" three 6 MiB messages and nothing more; "trickle" holds its response as
// "hold" does, sending 24 MiB behind it in 4 KiB messages; "garbage" a frame of a reserved
// opcode and 2 MiB after it; "frame <hex>" holds its response as "hold" does, then writes those bytes (a frame ws may
// refuse: invalid UTF-8, a masked one) on the raw socket; "unfinished" sends 2 MiB of an 8 MiB message and never the
// rest; "no cache details" reports usage without its cached tokens' breakdown; "late …" starts the response 200 ms
// after its create, then as the rest of the instructions say; "refuse" starts none: the create is refused with
// OpenAI's `error` for an invalid parameter, naming its event_id. A binary message is echoed.
// Input audio transcription as OpenAI runs it: off until a `session.update` names a model (GA's
// `session.audio.input.transcription`, or the beta's `session.input_audio_transcription` on an `openai-beta:
// realtime=v1` session), answered with `session.updated` in the session's own shape; each `input_audio_buffer.commit`
// is then `input_audio_buffer.committed` and `conversation.item.input_audio_transcription.completed`, whose usage is
// `tokens` for the gpt-4o transcribe models and `duration` for those billed by the audio's length (300 ms after the
// commit when the transcription's prompt is "slow", never when it is "hang"). `input_audio_buffer.clear` empties the buffer, answered with
// `input_audio_buffer.cleared`. A `session.update` asking for a transcription whose prompt is "refuse" is refused with
// OpenAI's `error` for an invalid parameter, naming its event_id, and changes nothing.
// Server VAD, a session's default: each `input_audio_buffer.append` holds one utterance, and `speechStopped()` (the
// provider's detector, on its own timing) ends the oldest one buffered in each session — `input_audio_buffer.
// speech_stopped`, the commit as above, and a response started by the provider itself, under the session's
// `instructions` (set by `session.update`; a `response.create` naming none uses them too; the `max_output_tokens`
// and `output_modalities` a `session.update` sets are reported back in the session). A `response.cancel` with
// no response of its (or the named one) in progress, and a `response.create` while one is held, are answered with
// OpenAI's `error` naming the client event's event_id. An out-of-band response (`response.conversation` "none") runs
// beside the conversation's: it is never refused for one in progress, and only a cancel naming it stops it.
// Credentials starting `sk-rejected` get a 401 at the handshake; those starting `sk-silent` no answer at all; a
// credential `sk-frame-<hex>` gets the 101, `session.created` and those bytes in one write, and nothing more.
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

/** OpenAI's documented example of a realtime usage block. */
export const FAKE_REALTIME_USAGE = {
  total_tokens: 821, input_tokens: 789, output_tokens: 32,
  input_token_details: { text_tokens: 313, audio_tokens: 476, image_tokens: 0, cached_tokens: 640, cached_tokens_details: { text_tokens: 256, audio_tokens: 384, image_tokens: 0 } },
  output_token_details: { text_tokens: 9, audio_tokens: 23 },
};
/** What a cancelled response reports: its input, and the output generated before it stopped. */
export const FAKE_CANCELLED_USAGE = {
  total_tokens: 110, input_tokens: 100, output_tokens: 10,
  input_token_details: { text_tokens: 100, audio_tokens: 0, image_tokens: 0, cached_tokens: 0, cached_tokens_details: { text_tokens: 0, audio_tokens: 0, image_tokens: 0 } },
  output_token_details: { text_tokens: 2, audio_tokens: 8 },
};
/** The requests-per-minute limit each `rate_limits.updated` reports; `remaining` is it less the credential's responses. */
export const FAKE_REQUESTS_PER_MINUTE = 5000;
/** The organization the fake's in-session rate-limit refusal names (OpenAI names the credential's). */
export const FAKE_ORGANIZATION = 'org-FakeOperator123';

export const FAKE_AUDIO = Buffer.from('fake pcm16 audio').toString('base64');
/** What a "drop" response streams as its audio's transcript before the provider goes away. */
export const FAKE_DROPPED_TRANSCRIPT = 'Sure — the weather in Paris today is sunny, with a high of twenty-one degrees.';
/** A transcription billed by tokens: 200 text tokens (the prompt) and 800 audio in, 50 out. */
export const FAKE_TRANSCRIPTION_USAGE = { type: 'tokens', total_tokens: 1050, input_tokens: 1000, input_token_details: { text_tokens: 200, audio_tokens: 800 }, output_tokens: 50 };
/** A transcription billed by the audio's length: fractional seconds, as OpenAI reports them, past the millisecond. */
export const FAKE_TRANSCRIPTION_SECONDS = 2.5004;
/** The transcription models billed by duration (OpenAI's pricing page), which report `duration` usage. */
const BY_DURATION = new Set(['whisper-1', 'gpt-transcribe', 'gpt-live-transcribe', 'gpt-realtime-whisper']);

export interface Handshake { url: string; headers: IncomingHttpHeaders }

export interface FakeRealtime {
  /** The base URL to give as TOLLGATE_PROVIDER_OPENAI_BASE_URL. */
  baseUrl: string;
  handshakes: Handshake[];
  /** Every message the fake received from the gateway (text as parsed JSON, binary as a Buffer). */
  received: unknown[];
  /** The text of each text message the fake received, as it came (parsing would round a number past 2^53). */
  texts: string[];
  /** Sessions open now. */
  open(): number;
  /** Server VAD hears the oldest utterance buffered in each session end: the provider commits it and starts a response. */
  speechStopped(): void;
  close(): Promise<void>;
}

export async function startFakeRealtime(): Promise<FakeRealtime> {
  const handshakes: Handshake[] = [];
  const received: unknown[] = [];
  const texts: string[] = [];
  const sockets = new Set<WebSocket>();
  const silent = new Set<Duplex>();
  const detectors = new Map<WebSocket, () => void>();
  const wss = new WebSocketServer({ noServer: true });
  const server: Server = createServer((_req, res) => { res.writeHead(404).end(); });
  let responses = 0;
  /** Responses started on each credential (its Authorization), in every session: what its rate limits count. */
  const perCredential = new Map<string, number>();
  server.on('upgrade', (req, socket, head) => {
    const credential = req.headers.authorization ?? '';
    handshakes.push({ url: req.url ?? '', headers: req.headers });
    if ((req.headers.authorization ?? '').startsWith('Bearer sk-silent')) {
      silent.add(socket);
      socket.once('close', () => silent.delete(socket));
      return;
    }
    const frame = /^Bearer sk-frame-([0-9a-f]+)$/.exec(req.headers.authorization ?? '');
    if (frame) {
      // The 101 written here, not by ws: what follows it is then in the same read of the gateway's, before it could
      // attach its client's socket to the session.
      const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      const created = Buffer.from(JSON.stringify({ type: 'session.created', event_id: 'event_s1', session: { id: 'sess_1', object: 'realtime.session', type: 'realtime' } }));
      silent.add(socket);
      socket.once('close', () => silent.delete(socket));
      socket.on('error', () => {});
      // The gateway's close frame is not answered: the socket is ended as it comes.
      socket.once('data', () => socket.end());
      socket.write(Buffer.concat([
        Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`),
        // session.created is under 126 bytes: its length in the header's second byte.
        Buffer.from([0x81, created.length]), created, Buffer.from(frame[1]!, 'hex'),
      ]));
      return;
    }
    if ((req.headers.authorization ?? '').startsWith('Bearer sk-rejected')) {
      const body = JSON.stringify({ error: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' } });
      socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.once('close', () => { sockets.delete(ws); detectors.delete(ws); });
      const model = new URL(req.url ?? '/', 'http://fake').searchParams.get('model');
      const beta = req.headers['openai-beta'] === 'realtime=v1';
      let transcription: { model: string } | null = null;
      // The output limit and modalities a session.update set (GA names), reported back as OpenAI does.
      let limits: Record<string, unknown> = {};
      const session = () => (beta
        ? { id: 'sess_1', object: 'realtime.session', model, input_audio_transcription: transcription }
        : { id: 'sess_1', object: 'realtime.session', type: 'realtime', model, ...limits, audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription }, output: { voice: 'alloy' } } });
      ws.send(JSON.stringify({ type: 'session.created', event_id: 'event_s1', session: session() }));
      let held: string | undefined;
      const heldOutOfBand = new Set<string>();
      const cancelled = (id: string) => ws.send(JSON.stringify({ type: 'response.done', event_id: 'event_d', response: { id, object: 'realtime.response', status: 'cancelled', status_details: { type: 'cancelled', reason: 'client_cancelled' }, output: [], usage: FAKE_CANCELLED_USAGE } }));
      let items = 0;
      let instructions: string | undefined;
      let utterances = 0;
      const commit = () => {
        const itemId = `item_audio_${++items}`;
        ws.send(JSON.stringify({ type: 'input_audio_buffer.committed', event_id: `event_ic${items}`, previous_item_id: null, item_id: itemId }));
        // A provider that announces one commit twice (a retried send): one item, one transcription.
        if ((transcription as { prompt?: string } | undefined)?.prompt === 'twice') ws.send(JSON.stringify({ type: 'input_audio_buffer.committed', event_id: `event_ic${items}b`, previous_item_id: null, item_id: itemId }));
        if (!transcription) return;
        const usage = BY_DURATION.has(transcription.model) ? { type: 'duration', seconds: FAKE_TRANSCRIPTION_SECONDS } : FAKE_TRANSCRIPTION_USAGE;
        const completed = JSON.stringify({ type: 'conversation.item.input_audio_transcription.completed', event_id: `event_t${items}`, item_id: itemId, content_index: 0, transcript: 'Hello there.', usage });
        // A transcription that takes its time, as a long utterance's does: it reports after the commit's answer.
        if ((transcription as { prompt?: string }).prompt === 'hang') return;
        if ((transcription as { prompt?: string }).prompt === 'slow') setTimeout(() => { if (ws.readyState === 1) ws.send(completed); }, 300);
        else ws.send(completed);
      };
      const respond = (told: string | undefined, outOfBand = false) => {
        const id = `resp_${++responses}`;
        ws.send(JSON.stringify({ type: 'response.created', event_id: `event_c${responses}`, response: { id, object: 'realtime.response', status: 'in_progress', output: [], usage: null } }));
        // As OpenAI does at each response's start: the credential's limits and what every session on it left of them.
        const started = (perCredential.get(credential) ?? 0) + 1;
        perCredential.set(credential, started);
        ws.send(JSON.stringify({ type: 'rate_limits.updated', event_id: `event_rl${responses}`, rate_limits: [
          { name: 'requests', limit: FAKE_REQUESTS_PER_MINUTE, remaining: FAKE_REQUESTS_PER_MINUTE - started, reset_seconds: 0.012 },
          { name: 'tokens', limit: 40_000, remaining: 40_000 - 2048 * started, reset_seconds: 1.5 },
        ] }));
        ws.send(JSON.stringify({ type: 'response.output_audio.delta', event_id: `event_a${responses}`, response_id: id, item_id: 'item_1', output_index: 0, content_index: 0, delta: FAKE_AUDIO }));
        if (told === 'hold' || told === 'trickle') {
          if (outOfBand) heldOutOfBand.add(id);
          else held = id;
          // Small messages (an item's text in pieces): none counts as a message still arriving, only as one waiting.
          if (told === 'trickle') {
            const text = 'A'.repeat(4 * 1024);
            for (let i = 0; i < 6 * 1024; i++) ws.send(JSON.stringify({ type: 'conversation.item.done', event_id: `event_trickle${i}`, item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } }));
          }
          return;
        }
        if (told === 'hang') return;
        if (told === 'drop') {
          for (const delta of FAKE_DROPPED_TRANSCRIPT.split(' ').map((word, i) => (i === 0 ? word : ` ${word}`))) {
            ws.send(JSON.stringify({ type: 'response.output_audio_transcript.delta', event_id: `event_t${responses}`, response_id: id, item_id: 'item_1', output_index: 0, content_index: 0, delta }));
          }
          // A second of 24 kHz 16-bit PCM (the session's format), in two deltas.
          for (let i = 0; i < 2; i++) ws.send(JSON.stringify({ type: 'response.output_audio.delta', event_id: `event_a${responses}_${i}`, response_id: id, item_id: 'item_1', output_index: 0, content_index: 0, delta: Buffer.alloc(24_000).toString('base64') }));
          ws.close(1011, 'server error');
          return;
        }
        if (told === 'unfinished') {
          // 2 MiB of an 8 MiB message, the rest never sent: a frame header and part of its payload, on the raw socket.
          const header = Buffer.alloc(10);
          header[0] = 0x81;
          header[1] = 127;
          header.writeBigUInt64BE(BigInt(8 * 1024 * 1024), 2);
          (ws as unknown as { _socket: Duplex })._socket.write(Buffer.concat([header, Buffer.alloc(2 * 1024 * 1024, 0x41)]));
          return;
        }
        if (told?.startsWith('frame ')) {
          held = id;
          (ws as unknown as { _socket: Duplex })._socket.write(Buffer.from(told.slice(6), 'hex'));
          return;
        }
        if (told === 'garbage') {
          // A frame of a reserved opcode (3), which ws refuses at its header, then 2 MiB more on the raw socket.
          (ws as unknown as { _socket: Duplex })._socket.write(Buffer.concat([Buffer.from([0x83, 0x00]), Buffer.alloc(2 * 1024 * 1024, 0x41)]));
          // Nothing more read: the gateway's close goes unanswered, and the socket stays open while it reads the rest.
          ws.pause();
          return;
        }
        if (told === 'flood') {
          // Three 6 MiB messages (an item echoed back, as OpenAI echoes a large one), then nothing more.
          const text = 'A'.repeat(6 * 1024 * 1024);
          for (let i = 0; i < 3; i++) ws.send(JSON.stringify({ type: 'conversation.item.done', event_id: `event_flood${i}`, item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } }));
          return;
        }
        if (told === 'huge') {
          ws.send(JSON.stringify({ type: 'response.output_audio.delta', event_id: 'event_huge', response_id: id, delta: 'A'.repeat(17 * 1024 * 1024) }));
          return;
        }
        // "no cache details": the same usage without `cached_tokens_details`, which OpenAI's schema leaves optional.
        const { cached_tokens_details: _, ...inputDetails } = FAKE_REALTIME_USAGE.input_token_details;
        const usage = told === 'no cache details' ? { ...FAKE_REALTIME_USAGE, input_token_details: inputDetails } : FAKE_REALTIME_USAGE;
        ws.send(JSON.stringify({ type: 'response.done', event_id: `event_d${responses}`, response: { id, object: 'realtime.response', status: 'completed', status_details: null, output: [], usage } }));
      };
      detectors.set(ws, () => {
        if (utterances === 0) return;
        utterances--;
        ws.send(JSON.stringify({ type: 'input_audio_buffer.speech_stopped', event_id: `event_ss${items + 1}`, audio_end_ms: 1000, item_id: `item_audio_${items + 1}` }));
        commit();
        respond(instructions);
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) {
          received.push(data);
          ws.send(data as Buffer, { binary: true });
          return;
        }
        texts.push(String(data));
        const event = JSON.parse(String(data)) as { type: string; event_id?: string; response_id?: string; response?: { instructions?: string; conversation?: string } };
        received.push(event);
        if (event.type === 'response.cancel') {
          if (event.response_id !== undefined && heldOutOfBand.delete(event.response_id)) cancelled(event.response_id);
          else if (held && (event.response_id === undefined || event.response_id === held)) {
            cancelled(held);
            held = undefined;
          } else {
            ws.send(JSON.stringify({ type: 'error', event_id: 'event_e', error: { type: 'invalid_request_error', code: 'response_cancel_not_active', message: 'Cancellation failed: no active response found', param: null, event_id: event.event_id ?? null } }));
          }
          return;
        }
        if (event.type === 'input_audio_buffer.append') {
          utterances++;
          return;
        }
        if (event.type === 'session.update') {
          const asked = (event as { session?: { instructions?: string; audio?: { input?: { transcription?: { model: string } | null } }; input_audio_transcription?: { model: string } | null } }).session;
          const given = beta ? asked?.input_audio_transcription : asked?.audio?.input?.transcription;
          // A transcription whose prompt is "refuse" is refused as an invalid parameter, the session left as it was.
          if ((given as { prompt?: string } | null | undefined)?.prompt === 'refuse') {
            ws.send(JSON.stringify({ type: 'error', event_id: 'event_e', error: { type: 'invalid_request_error', code: 'invalid_value', message: "Invalid value: 'refuse'.", param: 'session.audio.input.transcription.prompt', event_id: event.event_id ?? null } }));
            return;
          }
          if (given !== undefined) transcription = given;
          if (asked?.instructions !== undefined) instructions = asked.instructions;
          const { max_output_tokens: maxOutput, output_modalities: modalities } = asked as { max_output_tokens?: unknown; output_modalities?: unknown };
          if (maxOutput !== undefined) limits = { ...limits, max_output_tokens: maxOutput };
          if (modalities !== undefined) limits = { ...limits, output_modalities: modalities };
          ws.send(JSON.stringify({ type: 'session.updated', event_id: `event_u${items}`, session: session() }));
          return;
        }
        if (event.type === 'input_audio_buffer.commit') {
          utterances = 0;
          commit();
          return;
        }
        if (event.type === 'input_audio_buffer.clear') {
          utterances = 0;
          ws.send(JSON.stringify({ type: 'input_audio_buffer.cleared', event_id: `event_cl${items}` }));
          return;
        }
        if (event.type !== 'response.create') return;
        const outOfBand = event.response?.conversation === 'none';
        if (held && !outOfBand) {
          ws.send(JSON.stringify({ type: 'error', event_id: 'event_e', error: { type: 'invalid_request_error', code: 'conversation_already_has_active_response', message: `Conversation already has an active response in progress: ${held}. Wait until the response is finished before creating a new one.`, param: null, event_id: event.event_id ?? null } }));
          return;
        }
        const told = event.response?.instructions ?? instructions;
        // "rate-limited": OpenAI's in-session refusal of a credential at its limit, naming its organization and use.
        if (told === 'rate-limited') {
          ws.send(JSON.stringify({ type: 'error', event_id: 'event_e', error: { type: 'invalid_request_error', code: 'rate_limit_exceeded', message: `Rate limit reached for gpt-4o-mini-realtime in organization ${FAKE_ORGANIZATION} on requests per day (RPD): Limit 1000, Used 1000, Requested 1. Please try again in 1m26.4s. Visit https://platform.openai.com/account/rate-limits to learn more.`, param: null, event_id: event.event_id ?? null } }));
          return;
        }
        if (told === 'refuse') {
          ws.send(JSON.stringify({ type: 'error', event_id: 'event_e', error: { type: 'invalid_request_error', code: 'invalid_value', message: "Invalid value: 'refuse'. Supported values are: …", param: 'response.instructions', event_id: event.event_id ?? null } }));
          return;
        }
        // "late …": the response starts 200 ms after its create, as a loaded provider's may; then as the rest says.
        if (told?.startsWith('late ')) setTimeout(() => { if (ws.readyState === 1) respond(told.slice(5), outOfBand); }, 200);
        else respond(told, outOfBand);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    handshakes,
    received,
    texts,
    open: () => sockets.size,
    speechStopped: () => { for (const detect of detectors.values()) detect(); },
    async close() {
      for (const ws of sockets) ws.terminate();
      for (const socket of silent) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
