// Firewall's response rules on each tool call a model returns (gateway-behaviour.md "Firewall"), in the client's
// format, after any translation: a blocked call is removed and the answer says, in the same place, which rule blocked
// which tool ("so the agent can change course"); with no call left, the answer ends as a turn does. A stream holds
// each call's events until the call is complete, then releases them unchanged or puts the text in their place; every
// other event passes as it comes (the usage metering reads the upstream's bytes before this, so it sees them all).
import { StringDecoder } from 'node:string_decoder';
import type { ApiSurface } from '../../catalog/types.ts';
import { blockedText, blockingFinding, judgeToolCall, type CompiledPolicy, type FirewallFinding } from '../../domain/firewall.ts';
import { obj, parseJson } from '../formats/types.ts';
import { objects, type Json } from '../translate/json.ts';

/** What the agent reads in place of a call a rule blocked. */
function callBlockedText(finding: FirewallFinding, tool: string): string {
  return `${blockedText(finding, `the call to tool "${tool}"`)} The call was removed from this response and was not run.`;
}

/** Judges a call; the finding that blocks it, if one does. Every finding is noted. */
function judged(policies: readonly CompiledPolicy[], name: string, args: string, noted: FirewallFinding[]): FirewallFinding | undefined {
  const findings = judgeToolCall(policies, { name, arguments: args });
  if (findings.length === 0) return undefined;
  noted.push(...findings);
  return blockingFinding(findings);
}

const argsText = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value ?? {}));

/** A chat call's name and arguments: a function's JSON arguments, or a custom (freeform) tool's input text. */
function chatCall(call: Json): { name: string; args: string } {
  const fn = obj(call.function) ?? obj(call.custom);
  return { name: typeof fn?.name === 'string' ? fn.name : '', args: argsText(fn?.arguments ?? fn?.input) };
}

/** With the block's text after what the message said (a blank line apart). */
function withText(message: Json, text: string): void {
  message.content = typeof message.content === 'string' && message.content !== '' ? `${message.content}\n\n${text}` : text;
}

function screenChat(answer: Json, policies: readonly CompiledPolicy[], noted: FirewallFinding[]): boolean {
  let changed = false;
  for (const choice of objects(answer.choices)) {
    const message = obj(choice.message);
    // The legacy `function_call` (requests with `functions`): one call, which SDKs still run.
    const legacy = message && obj(message.function_call);
    if (legacy) {
      const { name, args } = chatCall({ function: legacy });
      const block = judged(policies, name, args, noted);
      if (block) {
        changed = true;
        delete message.function_call;
        withText(message, callBlockedText(block, name));
        if (choice.finish_reason === 'function_call') choice.finish_reason = 'stop';
      }
    }
    if (!message || !Array.isArray(message.tool_calls)) continue;
    const texts: string[] = [];
    const kept = objects(message.tool_calls).filter((call) => {
      const { name, args } = chatCall(call);
      const block = judged(policies, name, args, noted);
      if (block) texts.push(callBlockedText(block, name));
      return !block;
    });
    if (texts.length === 0) continue;
    changed = true;
    withText(message, texts.join('\n\n'));
    if (kept.length > 0) message.tool_calls = kept;
    else {
      delete message.tool_calls;
      if (choice.finish_reason === 'tool_calls') choice.finish_reason = 'stop';
    }
  }
  return changed;
}

function screenMessages(answer: Json, policies: readonly CompiledPolicy[], noted: FirewallFinding[]): boolean {
  if (!Array.isArray(answer.content)) return false;
  let blocked = false;
  let calls = 0;
  const content = (answer.content as unknown[]).map((part) => {
    const block = obj(part);
    if (block?.type !== 'tool_use') return part;
    const name = typeof block.name === 'string' ? block.name : '';
    const finding = judged(policies, name, argsText(block.input), noted);
    if (!finding) {
      calls++;
      return part;
    }
    blocked = true;
    return { type: 'text', text: callBlockedText(finding, name) };
  });
  if (!blocked) return false;
  answer.content = content;
  if (calls === 0 && answer.stop_reason === 'tool_use') answer.stop_reason = 'end_turn';
  return true;
}

/**
 * A Responses output item the client runs, as a call to judge: function and custom tool calls by their tool's name;
 * the built-in tools the agent itself carries out — `local_shell_call` and `shell_call` (a command on the agent's
 * machine), `apply_patch_call` (a file written), `computer_call` (a click or keystroke) — by their tool's type and
 * what they would do as JSON. A `shell_call` in a hosted container (`container_reference`) ran at OpenAI before the
 * answer arrived, as `mcp_call`, web and file searches and the code interpreter did: nothing is left to stop.
 */
function responsesCall(item: Json): { name: string; args: string } | undefined {
  switch (item.type) {
    case 'function_call': return { name: typeof item.name === 'string' ? item.name : '', args: argsText(item.arguments) };
    case 'custom_tool_call': return { name: typeof item.name === 'string' ? item.name : '', args: argsText(item.input) };
    case 'local_shell_call': return { name: 'local_shell', args: argsText(item.action) };
    case 'shell_call': return obj(item.environment)?.type === 'container_reference' ? undefined : { name: 'shell', args: argsText(item.action) };
    case 'apply_patch_call': return { name: 'apply_patch', args: argsText(item.operation) };
    case 'computer_call': return { name: 'computer', args: argsText(item.action ?? item.actions) };
    default: return undefined;
  }
}

/** Whether an item that begins a stream's output is one responsesCall may judge (a shell call's environment may come only at its end). */
const RESPONSES_CALL_TYPES = new Set(['function_call', 'custom_tool_call', 'local_shell_call', 'shell_call', 'apply_patch_call', 'computer_call']);

function textItem(id: string, text: string, status: string): Json {
  return { type: 'message', id, status, role: 'assistant', content: status === 'completed' ? [{ type: 'output_text', text, annotations: [], logprobs: [] }] : [] };
}

function screenResponses(answer: Json, policies: readonly CompiledPolicy[], noted: FirewallFinding[]): boolean {
  if (!Array.isArray(answer.output)) return false;
  let blocked = false;
  answer.output = (answer.output as unknown[]).map((entry) => {
    const item = obj(entry);
    const call = item && responsesCall(item);
    if (!call) return entry;
    const { name } = call;
    const finding = judged(policies, name, call.args, noted);
    if (!finding) return entry;
    blocked = true;
    return textItem(`msg_fw_${String(item.id ?? item.call_id ?? '')}`, callBlockedText(finding, name), 'completed');
  });
  return blocked;
}

/** A Gemini part's function call under either spelling. */
function geminiCall(part: Json): Json | undefined {
  return obj(part.functionCall) ?? obj(part.function_call);
}

function screenGeminiParts(parts: unknown[], policies: readonly CompiledPolicy[], noted: FirewallFinding[]): unknown[] | undefined {
  let blocked = false;
  const out = parts.map((p) => {
    const part = obj(p);
    const call = part && geminiCall(part);
    if (!call) return p;
    const name = typeof call.name === 'string' ? call.name : '';
    const finding = judged(policies, name, argsText(call.args), noted);
    if (!finding) return p;
    blocked = true;
    return { text: callBlockedText(finding, name) };
  });
  return blocked ? out : undefined;
}

function screenGemini(answer: Json, policies: readonly CompiledPolicy[], noted: FirewallFinding[]): boolean {
  let changed = false;
  for (const candidate of objects(answer.candidates)) {
    const content = obj(candidate.content);
    if (!content || !Array.isArray(content.parts)) continue;
    const parts = screenGeminiParts(content.parts, policies, noted);
    if (!parts) continue;
    content.parts = parts;
    changed = true;
  }
  return changed;
}

/**
 * A JSON answer in the client's format with its blocked calls taken out; the same bytes when nothing was blocked (or
 * the body is not an answer). Findings go to `noted`.
 */
export function screenJsonAnswer(surface: ApiSurface, body: Buffer, policies: readonly CompiledPolicy[], noted: FirewallFinding[]): Buffer {
  const answer = obj(parseJson(body.toString('utf8')));
  if (!answer) return body;
  const changed = surface === 'chat-completions' ? screenChat(answer, policies, noted)
    : surface === 'messages' ? screenMessages(answer, policies, noted)
      : surface === 'responses' ? screenResponses(answer, policies, noted)
        : screenGemini(answer, policies, noted);
  return changed ? Buffer.from(JSON.stringify(answer)) : body;
}

/** One SSE event: its text as received (terminator included), its `event:` name and its data. */
interface SseEvent { raw: string; name: string; data: string }

const EVENT_END = /\r\n\r\n|\n\n|\r\r/g;

function parseEvent(raw: string): SseEvent {
  let name = '';
  const data: string[] = [];
  for (const line of raw.split(/\r\n|\n|\r/)) {
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
  }
  return { raw, name, data: data.join('\n') };
}

/**
 * A chat call being held: its deltas, and whether each event held for it carried nothing else (so it can go out as it
 * came). `kind`: a function tool's call, a custom (freeform) tool's, or the legacy `function_call` (index -1).
 */
interface HeldChatCall { choice: number; index: number; kind: 'function' | 'custom' | 'legacy'; id: unknown; name: string; args: string; raws: string[]; pure: boolean; template: Json }

/**
 * Per chat choice: how many calls went out (released calls are numbered from 0 again), whether one was blocked, and
 * whether it has said anything yet (a block's text then follows a blank line, as in a JSON answer).
 */
interface ChoiceCalls { released: number; blocked: boolean; spoke: boolean }

/** Screens a stream in the client's format, event by event. */
export abstract class StreamGuard {
  readonly #decoder = new StringDecoder('utf8');
  #pending = '';
  /** Where findings go as calls are judged (the request's, for the access line). */
  protected readonly noted: FirewallFinding[];
  protected readonly policies: readonly CompiledPolicy[];

  constructor(policies: readonly CompiledPolicy[], noted: FirewallFinding[]) {
    this.policies = policies;
    this.noted = noted;
  }

  /** The bytes to send of what was received: complete events, held calls kept back. */
  push(bytes: Buffer | undefined): Buffer | undefined {
    if (!bytes) return undefined;
    this.#pending += this.#decoder.write(bytes);
    let out = '';
    let start = 0;
    EVENT_END.lastIndex = 0;
    for (let m = EVENT_END.exec(this.#pending); m; m = EVENT_END.exec(this.#pending)) {
      const end = m.index + m[0].length;
      out += this.event(parseEvent(this.#pending.slice(start, end)));
      start = end;
    }
    this.#pending = this.#pending.slice(start);
    return out === '' ? undefined : Buffer.from(out);
  }

  /** The stream ended: what is left (a held call is judged; an unterminated event goes out as it came). */
  end(): Buffer | undefined {
    const rest = this.flush() + this.#pending + this.#decoder.end();
    this.#pending = '';
    return rest === '' ? undefined : Buffer.from(rest);
  }

  /** How far the client's Responses events are numbered past the provider's (an error event ending the stream follows on). */
  get sequenceShift(): number {
    return 0;
  }

  protected judge(name: string, args: string): FirewallFinding | undefined {
    return judged(this.policies, name, args, this.noted);
  }

  protected blockedText(finding: FirewallFinding, name: string): string {
    return callBlockedText(finding, name);
  }

  /** One complete event → the text to send now. */
  protected abstract event(e: SseEvent): string;
  /** Calls still held when the stream ends. */
  protected flush(): string {
    return '';
  }
}

/** Whether a chat delta carries anything besides its calls (text, a role, a refusal). */
function carries(delta: Json): boolean {
  for (const key in delta) if (key !== 'tool_calls' && key !== 'function_call' && delta[key] !== null && delta[key] !== undefined && delta[key] !== '') return true;
  return false;
}

const sse = (data: Json | string): string => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
const named = (name: string, data: Json): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

/** Chat completions: a call's deltas (by choice and index) until another call's, its choice's finish, or the end. */
class ChatGuard extends StreamGuard {
  #held: HeldChatCall | undefined;
  readonly #choices = new Map<number, ChoiceCalls>();

  #calls(choice: number): ChoiceCalls {
    let calls = this.#choices.get(choice);
    if (!calls) this.#choices.set(choice, calls = { released: 0, blocked: false, spoke: false });
    return calls;
  }

  protected event(e: SseEvent): string {
    const chunk = e.data === '[DONE]' ? undefined : obj(parseJson(e.data));
    if (!chunk || !Array.isArray(chunk.choices)) return this.flush() + e.raw;
    const choices = objects(chunk.choices);
    // The usage chunk (no choices) and anything else without a call pass as they came.
    if (choices.length === 0) return e.raw;
    let out = '';
    let rewritten = false;
    let remains = false;
    for (const choice of choices) {
      const delta = obj(choice.delta);
      if (typeof delta?.content === 'string' && delta.content !== '') this.#calls(typeof choice.index === 'number' ? choice.index : 0).spoke = true;
      const calls = delta ? objects(delta.tool_calls) : [];
      // The legacy `function_call` streams its name and arguments as a call of index -1.
      const legacy = delta && obj(delta.function_call);
      if (legacy) calls.push({ index: -1, legacy: true, function: legacy });
      if (calls.length === 0) {
        remains = true;
        continue;
      }
      // An event carrying one call's delta and nothing else can go out as it came; any other has its calls taken out.
      const pure = choices.length === 1 && calls.length === 1 && !choice.finish_reason && !carries(delta!);
      for (const call of calls) out += this.#absorb(typeof choice.index === 'number' ? choice.index : 0, call, chunk, e.raw, pure);
      delete delta!.tool_calls;
      delete delta!.function_call;
      rewritten = true;
      if (carries(delta!) || choice.finish_reason) remains = true;
    }
    for (const choice of choices) {
      if (!choice.finish_reason) continue;
      out += this.flush();
      const calls = this.#calls(typeof choice.index === 'number' ? choice.index : 0);
      // Every call of the choice was blocked: it ends as a turn does.
      if (calls.blocked && calls.released === 0 && (choice.finish_reason === 'tool_calls' || choice.finish_reason === 'function_call')) {
        choice.finish_reason = 'stop';
        rewritten = true;
      }
    }
    if (!remains) return out;
    return out + (rewritten ? sse(chunk) : e.raw);
  }

  #absorb(choice: number, call: Json, chunk: Json, raw: string, pure: boolean): string {
    const index = typeof call.index === 'number' ? call.index : 0;
    let out = '';
    if (this.#held && (this.#held.choice !== choice || this.#held.index !== index)) out = this.flush();
    const custom = obj(call.custom);
    const fn = obj(call.function) ?? custom;
    if (!this.#held) {
      const { choices: _, ...template } = chunk;
      this.#held = { choice, index, kind: call.legacy === true ? 'legacy' : 'function', id: call.id, name: '', args: '', raws: [], pure: true, template };
    }
    const held = this.#held;
    if (custom) held.kind = 'custom';
    if (call.id !== undefined && held.id === undefined) held.id = call.id;
    if (typeof fn?.name === 'string') held.name += fn.name;
    // A custom tool's input is free text, streamed in pieces as a function's arguments are.
    const piece = fn?.arguments ?? fn?.input;
    if (typeof piece === 'string') held.args += piece;
    if (pure) held.raws.push(raw);
    else held.pure = false;
    return out;
  }

  protected override flush(): string {
    const held = this.#held;
    if (!held) return '';
    this.#held = undefined;
    const calls = this.#calls(held.choice);
    const finding = this.judge(held.name, held.args);
    const chunk = (delta: Json) => sse({ ...held.template, choices: [{ index: held.choice, delta, logprobs: null, finish_reason: null }] });
    if (finding) {
      calls.blocked = true;
      const text = `${calls.spoke ? '\n\n' : ''}${this.blockedText(finding, held.name)}`;
      calls.spoke = true;
      return chunk({ content: text });
    }
    if (held.kind === 'legacy') {
      calls.released++;
      return held.pure ? held.raws.join('') : chunk({ function_call: { name: held.name, arguments: held.args } });
    }
    const number = calls.released++;
    if (held.pure && number === held.index) return held.raws.join('');
    const body = held.kind === 'custom' ? { custom: { name: held.name, input: held.args } } : { function: { name: held.name, arguments: held.args } };
    return chunk({ tool_calls: [{ index: number, id: held.id, type: held.kind, ...body }] });
  }
}

/** Messages: a `tool_use` block's events, from its content_block_start to its content_block_stop. */
class MessagesGuard extends StreamGuard {
  #held: { index: number; name: string; args: string; raws: string[] } | undefined;
  #released = 0;
  #blocked = false;

  protected event(e: SseEvent): string {
    const type = e.name || (e.data.match(/"type"\s*:\s*"([a-z_]+)"/)?.[1] ?? '');
    if (type === 'content_block_start') {
      const start = obj(parseJson(e.data));
      const block = obj(start?.content_block);
      if (block?.type === 'tool_use') {
        this.#held = { index: Number(start!.index), name: typeof block.name === 'string' ? block.name : '', args: '', raws: [e.raw] };
        return '';
      }
    }
    const held = this.#held;
    if (held && (type === 'content_block_delta' || type === 'content_block_stop')) {
      const event = obj(parseJson(e.data));
      if (Number(event?.index) === held.index) {
        held.raws.push(e.raw);
        const delta = obj(event?.delta);
        if (typeof delta?.partial_json === 'string') held.args += delta.partial_json;
        return type === 'content_block_stop' ? this.#judged() : '';
      }
    }
    if (type === 'message_delta' && this.#blocked && this.#released === 0) {
      const event = obj(parseJson(e.data));
      const delta = obj(event?.delta);
      if (event && delta?.stop_reason === 'tool_use') {
        delta.stop_reason = 'end_turn';
        return named('message_delta', event);
      }
    }
    return e.raw;
  }

  #judged(): string {
    const held = this.#held!;
    this.#held = undefined;
    const finding = this.judge(held.name, held.args === '' ? '{}' : held.args);
    if (!finding) {
      this.#released++;
      return held.raws.join('');
    }
    this.#blocked = true;
    const index = held.index;
    return named('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } })
      + named('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: this.blockedText(finding, held.name) } })
      + named('content_block_stop', { type: 'content_block_stop', index });
  }

  /** A call cut off by the stream's end is not released: it never completed. */
  protected override flush(): string {
    this.#held = undefined;
    return '';
  }
}

const FUNCTION_CALL = /"function_?[cC]all"/;

/** Gemini: function calls come whole, in the parts of a chunk. */
class GeminiGuard extends StreamGuard {
  protected event(e: SseEvent): string {
    // Most chunks are text: only one naming a function call (either of Google's spellings) is read.
    if (!FUNCTION_CALL.test(e.data)) return e.raw;
    const chunk = obj(parseJson(e.data));
    let changed = false;
    for (const candidate of objects(chunk?.candidates)) {
      const content = obj(candidate.content);
      const parts = content && Array.isArray(content.parts) ? screenGeminiParts(content.parts, this.policies, this.noted) : undefined;
      if (!parts) continue;
      content!.parts = parts;
      changed = true;
    }
    return changed ? sse(chunk!) : e.raw;
  }
}

/** A Responses event with its sequence number moved by `shift`, written as it is named. */
function renumbered(name: string, event: Json, shift: number): string {
  if (typeof event.sequence_number === 'number') event.sequence_number += shift;
  return named(name || String(event.type), event);
}

/**
 * Responses: a call item's events, from its output_item.added to its output_item.done (by output index). A blocked
 * call's events become a message item's; the events after it are numbered on from there, and the final response
 * object lists the message in the call's place.
 */
class ResponsesGuard extends StreamGuard {
  #held: { outputIndex: unknown; events: Json[]; raws: string[] } | undefined;
  /** How far the events sent are numbered from the provider's (a blocked call's events replaced by as many of a message's). */
  #shift = 0;
  readonly #replaced = new Map<unknown, Json>();

  override get sequenceShift(): number {
    return this.#shift;
  }

  protected event(e: SseEvent): string {
    const event = obj(parseJson(e.data));
    if (!event) return e.raw;
    const item = obj(event.item);
    if (event.type === 'response.output_item.added' && item && RESPONSES_CALL_TYPES.has(String(item.type))) {
      this.#held = { outputIndex: event.output_index, events: [event], raws: [e.raw] };
      return '';
    }
    const held = this.#held;
    if (held && event.output_index === held.outputIndex) {
      held.events.push(event);
      held.raws.push(e.raw);
      if (event.type !== 'response.output_item.done') return '';
      this.#held = undefined;
      const done = item ?? {};
      const call = responsesCall(done);
      const finding = call && this.judge(call.name, call.args);
      if (!finding) return this.#shift === 0 ? held.raws.join('') : held.events.map((h) => renumbered('', h, this.#shift)).join('');
      return this.#message(held.events[0]!, done, this.blockedText(finding, call.name), held.events.length);
    }
    const response = obj(event.response);
    if (this.#replaced.size > 0 && response && Array.isArray(response.output)) {
      response.output = response.output.map((entry) => this.#replaced.get(obj(entry)?.id) ?? entry);
      return renumbered(e.name, event, this.#shift);
    }
    return this.#shift === 0 ? e.raw : renumbered(e.name, event, this.#shift);
  }

  /** A message item's events in place of a blocked call's, numbered from the first of them. */
  #message(added: Json, call: Json, text: string, dropped: number): string {
    const outputIndex = added.output_index;
    const id = `msg_fw_${String(call.id ?? call.call_id ?? '')}`;
    let sequence = (typeof added.sequence_number === 'number' ? added.sequence_number : 0) + this.#shift;
    const part = { item_id: id, output_index: outputIndex, content_index: 0 };
    const textPart = (t: string) => ({ type: 'output_text', text: t, annotations: [], logprobs: [] });
    const item = textItem(id, text, 'completed');
    this.#replaced.set(call.id, item);
    const events: [string, Json][] = [
      ['response.output_item.added', { output_index: outputIndex, item: textItem(id, text, 'in_progress') }],
      ['response.content_part.added', { ...part, part: textPart('') }],
      ['response.output_text.delta', { ...part, delta: text, logprobs: [] }],
      ['response.output_text.done', { ...part, text, logprobs: [] }],
      ['response.content_part.done', { ...part, part: textPart(text) }],
      ['response.output_item.done', { output_index: outputIndex, item }],
    ];
    const out = events.map(([type, fields]) => named(type, { type, sequence_number: sequence++, ...fields })).join('');
    this.#shift += events.length - dropped;
    return out;
  }
}

/** The guard for a stream of the client's surface. */
export function streamGuard(surface: ApiSurface, policies: readonly CompiledPolicy[], noted: FirewallFinding[]): StreamGuard | undefined {
  if (surface === 'chat-completions') return new ChatGuard(policies, noted);
  if (surface === 'responses') return new ResponsesGuard(policies, noted);
  if (surface === 'messages') return new MessagesGuard(policies, noted);
  if (surface === 'stream-generate-content' || surface === 'generate-content') return new GeminiGuard(policies, noted);
  return undefined;
}
