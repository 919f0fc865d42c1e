// OpenAI chat-completions requests (the OpenAI SDK, and most tools built on it) served by a model that speaks only
// Anthropic Messages (a custom provider declaring the Messages surface alone: an Anthropic-compatible endpoint or
// proxy). Messages, system prompts, images, function tools, calls and results, usage, stop reasons and errors are
// mapped both ways; streams are rebuilt as chat chunks. docs/decisions/translation.md.
import type { AttemptPlan } from '../../domain/routing.ts';
import { num, obj, parseJson } from '../formats/types.ts';
import type { StreamTranslation, TranslatedRequest, Translator } from './types.ts';
import { fittedOutputLimit } from './output-limit.ts';
import { openaiError } from './openai-error.ts';

type Json = Record<string, unknown>;

const MAPPED = new Set(['model', 'models', 'messages', 'max_tokens', 'max_completion_tokens', 'stop', 'temperature', 'top_p', 'stream', 'stream_options', 'tools', 'tool_choice', 'parallel_tool_calls', 'user']);

/** What Messages requires and chat may leave out: the output limit, when neither the request nor the catalog has one. */
const DEFAULT_MAX_TOKENS = 4096;

function list(v: unknown): Json[] {
  return Array.isArray(v) ? v.map(obj).filter((x): x is Json => x !== undefined) : [];
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return list(content).filter((p) => typeof p.text === 'string').map((p) => p.text as string).join('');
}

/** A chat content part as a Messages block: text, an image (a data URL or a URL), a PDF. */
function block(part: Json): Json | undefined {
  if (part.type === 'text' && typeof part.text === 'string') return { type: 'text', text: part.text };
  const url = typeof part.image_url === 'string' ? part.image_url : obj(part.image_url)?.url;
  if (part.type === 'image_url' && typeof url === 'string') {
    const data = /^data:([^;,]+);base64,(.*)$/s.exec(url);
    return data ? { type: 'image', source: { type: 'base64', media_type: data[1], data: data[2] } } : { type: 'image', source: { type: 'url', url } };
  }
  const fileData = obj(part.file)?.file_data;
  const pdf = typeof fileData === 'string' ? /^data:application\/pdf;base64,(.*)$/s.exec(fileData) : null;
  if (part.type === 'file' && pdf) return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf[1] } };
  return undefined;
}

function content(value: unknown): unknown {
  if (typeof value === 'string') return value;
  return list(value).map(block).filter((b): b is Json => b !== undefined);
}

function toolInput(args: unknown): unknown {
  const parsed = typeof args === 'string' && args !== '' ? parseJson(args) : undefined;
  return obj(parsed) ?? {};
}

/** Chat messages → Messages' `system` and turns; a run of tool results becomes one user turn. */
function turns(messages: unknown): { system: string; turns: Json[] } {
  const system: string[] = [];
  const out: Json[] = [];
  for (const m of list(messages)) {
    if (m.role === 'system' || m.role === 'developer') system.push(textOf(m.content));
    else if (m.role === 'assistant') {
      const blocks: Json[] = [];
      const text = textOf(m.content);
      if (text !== '') blocks.push({ type: 'text', text });
      for (const call of list(m.tool_calls)) {
        const fn = obj(call.function);
        blocks.push({ type: 'tool_use', id: call.id, name: fn?.name, input: toolInput(fn?.arguments) });
      }
      if (blocks.length > 0) out.push({ role: 'assistant', content: blocks });
    } else if (m.role === 'tool') {
      const result = { type: 'tool_result', tool_use_id: m.tool_call_id, content: textOf(m.content) };
      const last = out.at(-1);
      if (last?.role === 'user' && Array.isArray(last.content) && (last.content as Json[]).every((b) => b.type === 'tool_result')) (last.content as Json[]).push(result);
      else out.push({ role: 'user', content: [result] });
    } else out.push({ role: 'user', content: content(m.content) });
  }
  return { system: system.filter((s) => s !== '').join('\n\n'), turns: out };
}

function toolChoice(choice: unknown, parallel: unknown): Json | undefined {
  const noParallel = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === 'required') return { type: 'any', ...noParallel };
  if (choice === 'none') return { type: 'none' };
  const named = obj(obj(choice)?.function)?.name;
  if (typeof named === 'string') return { type: 'tool', name: named, ...noParallel };
  if (choice === 'auto' || parallel === false) return { type: 'auto', ...noParallel };
  return undefined;
}

function request(body: Json, plan: AttemptPlan): TranslatedRequest {
  const removed: string[] = [];
  for (const name of Object.keys(body)) if (!MAPPED.has(name)) removed.push(name);
  const { system, turns: messages } = turns(body.messages);
  const out: Json = { model: body.model, messages };
  if (system !== '') out.system = system;
  const limit = body.max_completion_tokens ?? body.max_tokens;
  out.max_tokens = typeof limit === 'number' ? fittedOutputLimit(limit, plan) : plan.candidate.catalogModel?.maxOutputTokens || DEFAULT_MAX_TOKENS;
  if (typeof body.stop === 'string') out.stop_sequences = [body.stop];
  else if (Array.isArray(body.stop) && body.stop.length > 0) out.stop_sequences = body.stop;
  // Messages takes a temperature up to 1 (chat: 2).
  if (typeof body.temperature === 'number') out.temperature = Math.min(body.temperature, 1);
  if (body.top_p !== undefined && body.top_p !== null) out.top_p = body.top_p;
  if (body.stream !== undefined) out.stream = body.stream;
  if (typeof body.user === 'string') out.metadata = { user_id: body.user };
  const functions = list(body.tools).filter((t) => t.type === 'function');
  if (functions.length < list(body.tools).length) removed.push('tools');
  if (functions.length > 0) {
    out.tools = functions.map((t) => {
      const fn = obj(t.function) ?? {};
      return { name: fn.name, ...(fn.description !== undefined ? { description: fn.description } : {}), input_schema: fn.parameters ?? { type: 'object' } };
    });
    const choice = toolChoice(body.tool_choice, body.parallel_tool_calls);
    if (choice) out.tool_choice = choice;
  } else {
    if (body.tool_choice !== undefined) removed.push('tool_choice');
    if (body.parallel_tool_calls !== undefined) removed.push('parallel_tool_calls');
  }
  return { body: out, removed };
}

const FINISH_REASONS: Readonly<Record<string, string>> = { end_turn: 'stop', stop_sequence: 'stop', pause_turn: 'stop', max_tokens: 'length', tool_use: 'tool_calls', refusal: 'content_filter' };

function finishReason(stop: unknown): string {
  return typeof stop === 'string' ? FINISH_REASONS[stop] ?? 'stop' : 'stop';
}

/** Messages usage → chat usage, whose `prompt_tokens` counts the cached input too. */
function chatUsage(usage: unknown): Json {
  const u = obj(usage);
  const read = num(u?.cache_read_input_tokens);
  const prompt = num(u?.input_tokens) + read + num(u?.cache_creation_input_tokens);
  const completion = num(u?.output_tokens);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: read } };
}

function chatId(id: unknown): string {
  return `chatcmpl-${typeof id === 'string' && id !== '' ? id.replace(/^msg_/, '') : 'translated'}`;
}

function answer(upstream: unknown): unknown {
  const message = obj(upstream) ?? {};
  let text = '';
  const calls: Json[] = [];
  for (const b of list(message.content)) {
    if (b.type === 'text' && typeof b.text === 'string') text += b.text;
    else if (b.type === 'tool_use') calls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } });
  }
  const reply: Json = { role: 'assistant', content: text === '' && calls.length > 0 ? null : text, refusal: null };
  if (calls.length > 0) reply.tool_calls = calls;
  return {
    id: chatId(message.id), object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: message.model,
    choices: [{ index: 0, message: reply, logprobs: null, finish_reason: finishReason(message.stop_reason) }],
    usage: chatUsage(message.usage),
  };
}

/** Messages events → chat completion chunks, ending with the finish chunk, the usage chunk when asked, `[DONE]`. */
class MessagesToChat implements StreamTranslation {
  readonly #includeUsage: boolean;
  #out = '';
  #done = false;
  #id = chatId(undefined);
  #model: unknown = '';
  readonly #created = Math.floor(Date.now() / 1000);
  /** Messages block index → its tool call's index in the chat chunks. */
  #calls = new Map<number, number>();
  #finish = 'stop';
  #usage: Json = {};

  constructor(includeUsage: boolean) {
    this.#includeUsage = includeUsage;
  }

  #chunk(delta: Json, finish: string | null = null, usage?: Json): void {
    const chunk: Json = { id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#model, choices: usage ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
    if (usage) chunk.usage = usage;
    else if (this.#includeUsage) chunk.usage = null;
    this.#out += `data: ${JSON.stringify(chunk)}\n\n`;
  }

  event(event: string, data: string): void {
    if (this.#done) return;
    const e = obj(parseJson(data));
    if (!e) return;
    const type = typeof e.type === 'string' ? e.type : event;
    if (type === 'message_start') {
      const message = obj(e.message) ?? {};
      this.#id = chatId(message.id);
      this.#model = message.model ?? '';
      this.#usage = { ...obj(message.usage) };
      this.#chunk({ role: 'assistant', content: '' });
    } else if (type === 'content_block_start') {
      const b = obj(e.content_block);
      if (b?.type === 'tool_use' && typeof e.index === 'number') {
        const at = this.#calls.size;
        this.#calls.set(e.index, at);
        this.#chunk({ tool_calls: [{ index: at, id: b.id, type: 'function', function: { name: b.name, arguments: '' } }] });
      }
    } else if (type === 'content_block_delta') {
      const delta = obj(e.delta);
      if (delta?.type === 'text_delta' && typeof delta.text === 'string') this.#chunk({ content: delta.text });
      else if (delta?.type === 'input_json_delta' && typeof delta.partial_json === 'string' && typeof e.index === 'number') {
        const at = this.#calls.get(e.index);
        if (at !== undefined) this.#chunk({ tool_calls: [{ index: at, function: { arguments: delta.partial_json } }] });
      }
    } else if (type === 'message_delta') {
      this.#finish = finishReason(obj(e.delta)?.stop_reason);
      // Counts a message_delta restates replace message_start's; those it leaves out (or nulls) stay.
      for (const [k, v] of Object.entries(obj(e.usage) ?? {})) if (v !== null && v !== undefined) this.#usage[k] = v;
    } else if (type === 'message_stop') {
      this.#close();
    } else if (type === 'error') {
      const failure = obj(e.error);
      this.#out += `data: ${JSON.stringify({ error: { message: typeof failure?.message === 'string' ? failure.message : 'The provider failed.', type: typeof failure?.type === 'string' ? failure.type : 'server_error', param: null, code: null } })}\n\n`;
      this.#done = true;
    }
  }

  #close(): void {
    if (this.#done) return;
    this.#chunk({}, this.#finish);
    if (this.#includeUsage) this.#chunk({}, null, chatUsage(this.#usage));
    this.#out += 'data: [DONE]\n\n';
    this.#done = true;
  }

  take(): string {
    const out = this.#out;
    this.#out = '';
    return out;
  }

  finish(): string {
    this.#close();
    return this.take();
  }
}

export const chatViaMessages: Translator = {
  request, answer, error: openaiError,
  // The usage chunk is the client's to ask for (`stream_options.include_usage`), as from OpenAI itself.
  stream: (scope) => new MessagesToChat(scope.includeUsage),
};
