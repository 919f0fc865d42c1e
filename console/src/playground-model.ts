// The Playground's logic, free of the DOM: each column's conversation with its model, the OpenAI chat-completions
// stream read back into text, reasoning, tool calls, finish reason and usage, and attachments as content parts.
// Every model is reachable through chat completions (the gateway translates), so that is the one wire format.
import type { Model, PlaygroundToken } from './api.ts';

/** Side by side, as ngrok's Playground: more would leave each column too narrow to read. */
export const MAX_COLUMNS = 3;
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
export const MAX_TEXT_BYTES = 200 * 1024;

export type ContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };
/** An entry of `reasoning_details`: the model's signed (or encrypted) reasoning, opaque here, sent back as it came. */
export type ReasoningDetail = Record<string, unknown>;
export interface ChatMessage { role: 'user' | 'assistant'; content: string | ContentPart[]; reasoning_details?: ReasoningDetail[] }

/**
 * The efforts chat's `reasoning_effort` takes (OpenAI's list; the gateway maps each to Claude's thinking, `minimal` and
 * `xhigh` to its nearest). The model list (GET /v1/models, ngrok's schema) says nothing of which a model takes, so
 * all are offered: a request the gateway sends without it (Claude with a limit too small to think) names it in
 * `Ngrok-AIG-Removed-Params`, which the answer shows; a model that refuses it (OpenAI's non-reasoning ones) answers
 * with its error.
 */
export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

export interface ToolCall { index: number; id: string; name: string; arguments: string }
export interface Usage { promptTokens: number; completionTokens: number; totalTokens: number; reasoningTokens?: number }
export interface AnswerError { message: string; code?: string; status?: number }

export interface Answer {
  state: 'streaming' | 'done' | 'stopped' | 'failed';
  text: string;
  reasoning: string;
  toolCalls: ToolCall[];
  finishReason?: string;
  usage?: Usage;
  error?: AnswerError;
  /**
   * The gateway's request id (`Ngrok-AIG-Request-Id`), the Logs entry of this answer. Not `x-request-id`: that is the
   * provider's own id when it sent one (OpenAI's `req_…`), which no Logs entry is named by.
   */
  requestId?: string;
  /** The model asked: its `reasoning_details` go back to it only (another model may refuse the field). */
  model?: string;
  /** Signed reasoning to send back with this answer on the next turn, as an SDK user's kept message carries it. */
  reasoningDetails?: ReasoningDetail[];
  /** Request fields the gateway did not send the model (`Ngrok-AIG-Removed-Params`), e.g. a reasoning effort it does not take. */
  removedParams?: string[];
}

/** `run`: which request the answer is awaited from (withPrompt, withRetry); only that request's stream writes it. */
export interface Turn { user: ChatMessage; answer: Answer; run?: number }

export const pendingAnswer = (): Answer => ({ state: 'streaming', text: '', reasoning: '', toolCalls: [] });

// ---- Server-sent events ----

export interface SseEvent { event: string; data: string }

/**
 * An SSE reader fed arbitrary pieces of the stream (network chunks split lines, CRLF pairs and UTF-8 anywhere; the
 * caller's TextDecoder with `stream: true` handles the last). Follows the WHATWG event-stream rules the page needs:
 * `data:` lines joined by newlines, one optional space after the colon dropped, comments and unknown fields ignored,
 * an event dispatched at a blank line.
 */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  #event = '';
  /** A chunk ended with CR: an LF starting the next one belongs to the same line break. */
  #pendingCr = false;

  push(text: string): SseEvent[] {
    if (text === '') return [];
    if (this.#pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCr = text.endsWith('\r');
    this.#buffer += text;
    const out: SseEvent[] = [];
    const lines = this.#buffer.split(/\r\n|\r|\n/);
    this.#buffer = lines.pop()!;
    for (const line of lines) this.#line(line, out);
    return out;
  }

  /** The stream ended: an event not closed by a blank line is dropped, as the standard says. */
  end(): SseEvent[] {
    this.#buffer = '';
    this.#data = [];
    this.#event = '';
    return [];
  }

  #line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.#data.length > 0) out.push({ event: this.#event || 'message', data: this.#data.join('\n') });
      this.#data = [];
      this.#event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
  }
}

// ---- Chat-completion chunks ----

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Json : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** An OpenAI-shaped error body (`{error: {message, code}}`), or the text as it came. */
export function errorOf(body: string, status?: number): AnswerError {
  let parsed: unknown;
  try { parsed = JSON.parse(body); } catch { parsed = undefined; }
  const error = obj(obj(parsed)?.error) ?? obj(parsed);
  const message = str(error?.message) ?? str(error?.msg) ?? (body.trim() || `The gateway answered ${status ?? 'with an error'}.`);
  const code = str(error?.code) ?? str(error?.errorCode);
  return { message, ...(code ? { code } : {}), ...(status !== undefined ? { status } : {}) };
}

function usageOf(u: Json): Usage {
  const reasoning = obj(u.completion_tokens_details)?.reasoning_tokens;
  return {
    promptTokens: num(u.prompt_tokens), completionTokens: num(u.completion_tokens), totalTokens: num(u.total_tokens),
    ...(typeof reasoning === 'number' && reasoning > 0 ? { reasoningTokens: reasoning } : {}),
  };
}

/**
 * One chunk (parsed `data:`) applied to the answer, returned as a new answer. Reasoning arrives as `reasoning_content`
 * (DeepSeek, vLLM, most OpenAI-compatible servers) or `reasoning` (OpenRouter-style); tool calls as deltas of
 * `tool_calls[]` merged by their `index`, the arguments arriving in pieces.
 */
export function applyChunk(answer: Answer, chunk: unknown): Answer {
  const c = obj(chunk);
  if (!c) return answer;
  const error = obj(c.error);
  if (error) return { ...answer, state: 'failed', error: errorOf(JSON.stringify({ error })) };
  const next: Answer = { ...answer };
  const usage = obj(c.usage);
  if (usage) next.usage = usageOf(usage);
  const choices = Array.isArray(c.choices) ? c.choices : [];
  // The Playground asks for one choice: any other index is not this column's.
  const choice = choices.map(obj).find((ch) => ch !== undefined && num(ch.index) === 0);
  if (!choice) return next;
  const delta = obj(choice.delta) ?? {};
  const text = str(delta.content);
  if (text) next.text += text;
  const reasoning = str(delta.reasoning_content) ?? str(delta.reasoning);
  if (reasoning) next.reasoning += reasoning;
  if (Array.isArray(delta.reasoning_details)) {
    const details = delta.reasoning_details.map(obj).filter((d): d is Json => d !== undefined);
    if (details.length > 0) next.reasoningDetails = mergeDetails(next.reasoningDetails ?? [], details);
  }
  if (Array.isArray(delta.tool_calls)) {
    const calls = [...next.toolCalls];
    for (const raw of delta.tool_calls) {
      const d = obj(raw);
      if (!d) continue;
      const index = num(d.index);
      const fn = obj(d.function) ?? {};
      const at = calls.findIndex((t) => t.index === index);
      const before = at >= 0 ? calls[at]! : { index, id: '', name: '', arguments: '' };
      const merged = { ...before, id: str(d.id) ?? before.id, name: before.name + (str(fn.name) ?? ''), arguments: before.arguments + (str(fn.arguments) ?? '') };
      if (at >= 0) calls[at] = merged; else calls.push(merged);
    }
    next.toolCalls = calls.sort((a, b) => a.index - b.index);
  }
  const finish = str(choice.finish_reason);
  if (finish) next.finishReason = finish;
  return next;
}

/**
 * `reasoning_details` of a delta added to those held. The gateway sends them once, whole, in the finish chunk; a
 * server that streams them (OpenRouter, through a custom provider) sends pieces of one entry under the same `index`
 * and type, whose strings are joined, so the entry goes back whole rather than as its pieces.
 */
function mergeDetails(held: readonly ReasoningDetail[], added: readonly ReasoningDetail[]): ReasoningDetail[] {
  const out = held.map((d) => ({ ...d }));
  for (const d of added) {
    const same = typeof d.index === 'number' ? out.find((h) => h.index === d.index && h.type === d.type) : undefined;
    if (!same) { out.push({ ...d }); continue; }
    for (const [key, value] of Object.entries(d)) {
      same[key] = typeof value === 'string' && typeof same[key] === 'string' && key !== 'type' && key !== 'format' && key !== 'id' ? same[key] + value : value;
    }
  }
  return out;
}

/** An event's data applied; `[DONE]` ends the answer, data that is not JSON is ignored. */
export function applyEvent(answer: Answer, event: SseEvent): Answer {
  if (event.data === '[DONE]') return { ...answer, state: answer.state === 'streaming' ? 'done' : answer.state };
  let parsed: unknown;
  try { parsed = JSON.parse(event.data); } catch { return answer; }
  return applyChunk(answer, parsed);
}

// ---- Conversations ----

/** Whether a turn's exchange goes into the model's later history: an answer that failed or said nothing does not. */
const kept = (t: Turn): boolean => (t.answer.state === 'done' || t.answer.state === 'stopped') && t.answer.text !== '';

/**
 * The messages of the column's next request to `model`: every earlier turn that produced text (the user's message and
 * the answer's text; tool calls are shown, not replayed — the Playground runs no tools to answer them), then the last
 * turn's user message. Each column has its own turns, so each model keeps its own history. An answer's
 * `reasoning_details` go back with it, as an openai SDK user's kept message sends them (Claude needs its signed
 * thinking back to go on with a tool loop) — to the model that wrote them only: after the column's model changed,
 * the new one gets the text alone (OpenAI's older models refuse a message field they do not know).
 */
export function messagesFor(turns: readonly Turn[], model?: string): ChatMessage[] {
  const last = turns.at(-1);
  if (!last) return [];
  const earlier = turns.slice(0, -1).filter(kept).flatMap((t): ChatMessage[] => {
    const details = t.answer.reasoningDetails;
    const own = details !== undefined && details.length > 0 && t.answer.model === model;
    return [t.user, { role: 'assistant', content: t.answer.text, ...(own ? { reasoning_details: details } : {}) }];
  });
  return [...earlier, last.user];
}

let lastRun = 0;

/** A new prompt for a column: its turns with the prompt appended, awaiting the answer. */
export function withPrompt(turns: readonly Turn[], user: ChatMessage): Turn[] {
  return [...turns, { user, answer: pendingAnswer(), run: ++lastRun }];
}

/** Retry: the last answer dropped and awaited again; the history sent is the same as the first time. */
export function withRetry(turns: readonly Turn[]): Turn[] {
  const last = turns.at(-1);
  return last ? [...turns.slice(0, -1), { user: last.user, answer: pendingAnswer(), run: ++lastRun }] : [];
}

/**
 * The turns with `change` applied to the answer of request `run`, unchanged when that answer is gone: a stream ended
 * by "Clear conversation" (or replaced by a retry) settles after the column's next prompt started, and its "stopped"
 * or its late chunks must not land on the answer now awaited from another request.
 */
export function withAnswer(turns: Turn[], run: number | undefined, change: (a: Answer) => Answer): Turn[] {
  const last = turns.at(-1);
  if (!last || last.run !== run) return turns;
  return [...turns.slice(0, -1), { ...last, answer: change(last.answer) }];
}

/** The column's request; `effort` undefined sends no `reasoning_effort` (the model's default), `none` turns reasoning off. */
export function requestBody(model: string, messages: ChatMessage[], effort?: ReasoningEffort): Json {
  return { model, messages, stream: true, stream_options: { include_usage: true }, ...(effort ? { reasoning_effort: effort } : {}) };
}

/** What the answer's response headers say of it: the gateway's request id and the fields it did not send. */
export function answerHeaders(headers: { get(name: string): string | null }): Pick<Answer, 'requestId' | 'removedParams'> {
  const requestId = headers.get('ngrok-aig-request-id') ?? undefined;
  const removed = (headers.get('ngrok-aig-removed-params') ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  return { ...(requestId ? { requestId } : {}), ...(removed.length > 0 ? { removedParams: removed } : {}) };
}

// ---- Attachments ----

export interface Attachment { name: string; kind: 'image' | 'text'; size: number; /** data: URL (image) or the file's text. */ content: string }
export interface FileInfo { name: string; type: string; size: number }

const TEXT_EXTENSIONS = /\.(txt|md|markdown|csv|tsv|json|jsonl|ya?ml|toml|xml|html?|css|js|mjs|cjs|ts|tsx|jsx|py|rb|go|rs|java|kt|c|h|cc|cpp|hpp|cs|sh|sql|log|ini|conf|env)$/i;

function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

/**
 * The image types every vision model behind the gateway takes (OpenAI's and Anthropic's own list; Bedrock's Converse
 * the same four): an SVG, BMP, TIFF or HEIC would be sent only to be refused upstream, after a 5 MB upload.
 */
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** How a file is attached (an image, or text inlined), or why it cannot be: its type, or its size over the bound. */
export function attachmentKind(file: FileInfo): { kind: 'image' | 'text' } | { refused: string } {
  const type = file.type.toLowerCase();
  const image = IMAGE_TYPES.has(type);
  const text = !type.startsWith('image/') && (type.startsWith('text/') || type === 'application/json' || TEXT_EXTENSIONS.test(file.name));
  if (!image && !text) return { refused: `${file.name} is neither an image the models take nor a text file: attach images (PNG, JPEG, GIF, WebP) or text files.` };
  const max = image ? MAX_IMAGE_BYTES : MAX_TEXT_BYTES;
  if (file.size > max) return { refused: `${file.name} is ${sizeText(file.size)}: ${image ? 'an image' : 'a text file'} may be at most ${sizeText(max)}.` };
  return { kind: image ? 'image' : 'text' };
}

/** The user's message: plain text alone, else content parts (text files inlined under their names, images as data URLs). */
export function userMessage(text: string, attachments: readonly Attachment[]): ChatMessage {
  if (attachments.length === 0) return { role: 'user', content: text };
  const parts: ContentPart[] = [];
  for (const a of attachments) {
    if (a.kind === 'text') parts.push({ type: 'text', text: `File ${a.name}:\n\n${a.content}` });
  }
  if (text !== '') parts.push({ type: 'text', text });
  for (const a of attachments) {
    if (a.kind === 'image') parts.push({ type: 'image_url', image_url: { url: a.content } });
  }
  return { role: 'user', content: parts };
}

/** What a user turn shows: the files inlined in it (by name), the user's own text, its images. */
export type UserTurnPart = { kind: 'file'; name: string } | { kind: 'text'; text: string } | { kind: 'image'; url: string };

const INLINED_FILE = /^File ([^\n]*):\n\n/;

/**
 * A user message read back for display (userMessage's inverse). userMessage puts the typed text after the inlined files,
 * and only when some was typed: the last text part is the user's own unless every text part reads as a file. So a prompt
 * that merely starts with "File " shows as typed, not as an attachment.
 */
export function userTurnParts(message: ChatMessage): UserTurnPart[] {
  if (typeof message.content === 'string') return [{ kind: 'text', text: message.content }];
  const texts = message.content.filter((p) => p.type === 'text');
  const onlyFiles = texts.every((t) => INLINED_FILE.test(t.text));
  return message.content.map((p): UserTurnPart => {
    if (p.type === 'image_url') return { kind: 'image', url: p.image_url.url };
    const file = INLINED_FILE.exec(p.text);
    return file && (p !== texts.at(-1) || onlyFiles) ? { kind: 'file', name: file[1]! } : { kind: 'text', text: p.text };
  });
}

/** The catalog entry of a model as the page names it: `provider:model` (a provider's) or the catalog's own id. */
export function catalogEntry(models: readonly Model[], name: string): Model | undefined {
  return models.find((m) => m.id === name || m.providers.some((p) => p.model_id === name));
}

/** Whether the model's catalog entry says it takes images; a name the catalog does not know is not assumed to. */
export function takesImages(models: readonly Model[], name: string): boolean {
  return catalogEntry(models, name)?.architecture.input_modalities.includes('image') === true;
}

/** Why images cannot go to these models (those the catalog does not say take images), or undefined. */
export function imageRefusal(models: readonly Model[], names: readonly string[], attachments: readonly Attachment[]): string | undefined {
  if (!attachments.some((a) => a.kind === 'image')) return undefined;
  const blind = names.filter((n) => !takesImages(models, n));
  if (blind.length === 0) return undefined;
  return `${blind.join(', ')} ${blind.length === 1 ? 'does' : 'do'} not take images (per the model catalog): remove the image, or disable or change ${blind.length === 1 ? 'that model' : 'those models'}.`;
}

/** A Playground token as the page holds it: when it expires by this browser's clock, from the lifetime the console gave. */
export interface HeldToken extends PlaygroundToken { expiresLocally: number }

/**
 * The token with its expiry on this browser's clock. `expiresAt` is the console host's clock: a browser running a
 * minute slow would reuse a token the gateway already refuses (401) if it compared against that.
 */
export function heldToken(token: PlaygroundToken, now: number): HeldToken {
  const lifetimeMs = Number.isFinite(token.expiresInSeconds) ? token.expiresInSeconds * 1000 : Date.parse(token.expiresAt) - now;
  return { ...token, expiresLocally: now + lifetimeMs };
}

/** Whether a held token has more than `marginMs` left: less, and a new one is minted before the request. */
export function tokenFresh(token: HeldToken, now: number, marginMs: number): boolean {
  return token.expiresLocally - now > marginMs;
}
