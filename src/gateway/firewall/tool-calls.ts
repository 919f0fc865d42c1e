// Firewall's response rules on each tool call a model returns (gateway-behaviour.md "Firewall"), in the client's
// format, after any translation: a blocked call is removed and the answer says, in the same place, which rule blocked
// which tool ("so the agent can change course"); with no call left, the answer ends as a turn does. A stream holds
// each call's events until the call is complete, then releases them unchanged or puts the text in their place; every
// other event passes as it comes (the usage metering reads the upstream's bytes before this, so it sees them all).
import { StringDecoder } from 'node:string_decoder';
import type { ApiSurface } from '../../catalog/types.ts';
import { blockedText, blockingFinding, judgeToolCall, type CompiledPolicy, type CompiledRule, type FirewallFinding } from '../../domain/firewall.ts';
import { obj, parseJson } from '../formats/types.ts';
import { objects, type Json } from '../translate/json.ts';
import { repeatedKey } from '../body-edit.ts';

/** What the agent reads in place of a call a rule blocked. */
export function callBlockedText(finding: FirewallFinding, tool: string): string {
  return `${blockedText(finding, `the call to tool "${tool}"`)} The call was removed from this response and was not run.`;
}

/** The decision model's say on a decision rule for a call (decision.ts): flagged, not, or undefined (unchecked). */
export type CallDecider = (rule: CompiledRule, name: string, args: string) => boolean | undefined;

/**
 * The decider of the screening running now. The guards and the JSON screening are synchronous and judge calls from
 * many places, so the decision model's answers, gathered before they run (decision.ts), are in effect for the length
 * of one synchronous call (`decidingWith`), not threaded through every one of them. None: decision rules are unchecked.
 */
let deciding: CallDecider | undefined;

/** Runs a screening (a guard's push or end, a JSON answer's) with `decider` answering its decision rules. */
export function decidingWith<T>(decider: CallDecider, run: () => T): T {
  const before = deciding;
  deciding = decider;
  try {
    return run();
  } finally {
    deciding = before;
  }
}

/** Judges a call; the finding that blocks it, if one does. Every finding is noted. */
export function judged(policies: readonly CompiledPolicy[], name: string, args: string, noted: FirewallFinding[]): FirewallFinding | undefined {
  let repeats: boolean | undefined;
  const decider = deciding;
  const findings = judgeToolCall(policies, { name, arguments: args, repeatsKey: () => (repeats ??= repeatedKey(args) !== undefined) }, decider && ((rule) => decider(rule, name, args)));
  if (findings.length === 0) return undefined;
  noted.push(...findings);
  return blockingFinding(findings);
}

export const argsText = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value ?? {}));

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

/**
 * A content list with its blocked calls replaced by text blocks (`call`: a block's call, if it is one); undefined when
 * nothing was blocked. `kept`: the calls left, with none of which the turn ends as one without calls does.
 */
function screenBlocks(content: unknown[], call: (block: Json) => Json | undefined, textBlock: (text: string) => Json, policies: readonly CompiledPolicy[], noted: FirewallFinding[]): { content: unknown[]; kept: number } | undefined {
  let blocked = false;
  let kept = 0;
  const out = content.map((part) => {
    const use = call(obj(part) ?? {});
    if (!use) return part;
    const name = typeof use.name === 'string' ? use.name : '';
    const finding = judged(policies, name, argsText(use.input), noted);
    if (!finding) {
      kept++;
      return part;
    }
    blocked = true;
    return textBlock(callBlockedText(finding, name));
  });
  return blocked ? { content: out, kept } : undefined;
}

function screenMessages(answer: Json, policies: readonly CompiledPolicy[], noted: FirewallFinding[]): boolean {
  if (!Array.isArray(answer.content)) return false;
  const screened = screenBlocks(answer.content, (b) => (b.type === 'tool_use' ? b : undefined), (text) => ({ type: 'text', text }), policies, noted);
  if (!screened) return false;
  answer.content = screened.content;
  if (screened.kept === 0 && answer.stop_reason === 'tool_use') answer.stop_reason = 'end_turn';
  return true;
}

/** Bedrock's Converse: the output message's `toolUse` blocks, a blocked one replaced by a text block. */
function screenConverse(answer: Json, policies: readonly CompiledPolicy[], noted: FirewallFinding[]): boolean {
  const message = obj(obj(answer.output)?.message);
  if (!message || !Array.isArray(message.content)) return false;
  const screened = screenBlocks(message.content, (b) => obj(b.toolUse), (text) => ({ text }), policies, noted);
  if (!screened) return false;
  message.content = screened.content;
  if (screened.kept === 0 && answer.stopReason === 'tool_use') answer.stopReason = 'end_turn';
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
 * The lists an Interaction's output comes in: `steps` (a blocked `function_call` step becomes a `model_output` step
 * with the text), and `outputs` of Google's earlier revision (the call becomes a text content). Either is screened
 * wherever it is found: the gateway cannot tell which revision Google answered with before reading the answer.
 */
const INTERACTION_LISTS: readonly [string, (text: string) => Json][] = [
  ['steps', (text) => ({ type: 'model_output', content: [{ type: 'text', text }] })],
  ['outputs', (text) => ({ type: 'text', text })],
];

const interactionCall = (item: Json): Json | undefined => (item.type === 'function_call' ? { name: item.name, input: item.arguments } : undefined);

/** An Interaction: its blocked calls replaced by text; with no call left, `requires_action` → `completed`. */
function screenInteraction(answer: Json, policies: readonly CompiledPolicy[], noted: FirewallFinding[]): boolean {
  let changed = false;
  let kept = 0;
  for (const [key, textItem] of INTERACTION_LISTS) {
    const list = answer[key];
    if (!Array.isArray(list)) continue;
    const screened = screenBlocks(list, interactionCall, textItem, policies, noted);
    if (screened) answer[key] = screened.content;
    kept += screened ? screened.kept : objects(list).filter((item) => item.type === 'function_call').length;
    changed ||= screened !== undefined;
  }
  if (changed && kept === 0 && answer.status === 'requires_action') answer.status = 'completed';
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
    // Claude's InvokeModel answer is Messages' (only a Claude body is let through: firewall/index.ts).
    : surface === 'messages' || surface === 'invoke' ? screenMessages(answer, policies, noted)
      : surface === 'responses' ? screenResponses(answer, policies, noted)
        : surface === 'converse' ? screenConverse(answer, policies, noted)
          : surface === 'interactions' ? screenInteraction(answer, policies, noted)
            // Legacy completions return no calls.
            : surface === 'completions' ? false
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

/** Characters of stream text searched for an event's end so far (tests check it stays linear in what arrives). */
let searchedChars = 0;
export function guardCharsSearched(): number {
  return searchedChars;
}

/** What the relay asks of a stream's guard, SSE (below) or AWS event-stream frames (event-stream.ts). */
export interface ToolCallGuard {
  /** The bytes to send of what was received. */
  push(bytes: Buffer | undefined): Buffer | undefined;
  /** The stream ended: what is left to send. */
  end(): Buffer | undefined;
  /** How far the client's Responses events are numbered past the provider's. */
  readonly sequenceShift: number;
  /** Bytes received and not yet given out while calls are held (0 once nothing is held). */
  readonly held: number;
}

/**
 * What every guard shares, SSE (StreamGuard) or AWS frames (event-stream.ts): its policies, where findings go, and
 * the count of what it holds, which the relay bounds.
 */
export abstract class CountingGuard implements ToolCallGuard {
  /** Where findings go as calls are judged (the request's, for the access line). */
  protected readonly noted: FirewallFinding[];
  protected readonly policies: readonly CompiledPolicy[];
  #held = 0;

  constructor(policies: readonly CompiledPolicy[], noted: FirewallFinding[]) {
    this.policies = policies;
    this.noted = noted;
  }

  get held(): number {
    return this.#held;
  }

  /**
   * The bytes to send of what was received. What it holds is counted only while something is held, and dropped to 0
   * once nothing is: a blocked call's text, shorter than the call, cannot add up over a long stream.
   */
  push(bytes: Buffer | undefined): Buffer | undefined {
    if (!bytes) return undefined;
    const out = this.screen(bytes);
    this.#held = this.holding() ? Math.max(0, this.#held + bytes.length - (out?.length ?? 0)) : 0;
    return out;
  }

  abstract end(): Buffer | undefined;
  abstract get sequenceShift(): number;
  /** What was received → the bytes to send now. */
  protected abstract screen(bytes: Buffer): Buffer | undefined;
  /** Whether anything is held now (a call open). */
  protected abstract holding(): boolean;
}

/** Screens a stream in the client's format, event by event. */
export abstract class StreamGuard extends CountingGuard {
  readonly #decoder = new StringDecoder('utf8');
  /**
   * The unfinished event's text, in the pieces it came in: joined only when an end arrives, so an event arriving in
   * many reads is copied once, not once per read.
   */
  #pending: string[] = [];
  /** Its last three characters, which may begin an end (`\r\n\r\n`) the next read completes. */
  #tail = '';

  /** Complete events, held calls kept back. */
  protected screen(bytes: Buffer): Buffer | undefined {
    const text = this.#decoder.write(bytes);
    EVENT_END.lastIndex = 0;
    searchedChars += this.#tail.length + text.length;
    if (!EVENT_END.test(this.#tail + text)) {
      if (text !== '') this.#pending.push(text);
      this.#tail = (this.#tail + text).slice(-3);
      return undefined;
    }
    const pending = this.#pending.join('') + text;
    searchedChars += pending.length;
    let out = '';
    let start = 0;
    EVENT_END.lastIndex = 0;
    for (let m = EVENT_END.exec(pending); m; m = EVENT_END.exec(pending)) {
      const end = m.index + m[0].length;
      out += this.event(parseEvent(pending.slice(start, end)));
      start = end;
    }
    const rest = pending.slice(start);
    this.#pending = rest === '' ? [] : [rest];
    this.#tail = rest.slice(-3);
    return out === '' ? undefined : Buffer.from(out);
  }

  /** The stream ended: what is left (a held call is judged; an unterminated event goes out as it came). */
  end(): Buffer | undefined {
    const rest = this.flush() + this.#pending.join('') + this.#decoder.end();
    this.#pending = [];
    this.#tail = '';
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
  protected holding(): boolean {
    return false;
  }
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

/**
 * Chat completions: a call's deltas (by choice and index) until another call's of its choice, its choice's finish, or
 * the end. Each choice holds its own: with `n` > 1 the choices' deltas come interleaved, one choice's call in the middle
 * of another's.
 */
class ChatGuard extends StreamGuard {
  readonly #held = new Map<number, HeldChatCall>();
  readonly #choices = new Map<number, ChoiceCalls>();

  protected override holding(): boolean {
    return this.#held.size > 0;
  }

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
      if (typeof delta?.content === 'string' && delta.content !== '') this.#calls(choiceIndex(choice)).spoke = true;
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
      for (const call of calls) out += this.#absorb(choiceIndex(choice), call, chunk, e.raw, pure);
      delete delta!.tool_calls;
      delete delta!.function_call;
      rewritten = true;
      if (carries(delta!) || choice.finish_reason) remains = true;
    }
    for (const choice of choices) {
      if (!choice.finish_reason) continue;
      const index = choiceIndex(choice);
      out += this.#release(index);
      const calls = this.#calls(index);
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
    let held = this.#held.get(choice);
    if (held && held.index !== index) {
      out = this.#release(choice);
      held = undefined;
    }
    const custom = obj(call.custom);
    const fn = obj(call.function) ?? custom;
    if (!held) {
      const { choices: _, ...template } = chunk;
      held = { choice, index, kind: call.legacy === true ? 'legacy' : 'function', id: call.id, name: '', args: '', raws: [], pure: true, template };
      this.#held.set(choice, held);
    }
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
    let out = '';
    for (const choice of [...this.#held.keys()]) out += this.#release(choice);
    return out;
  }

  /** The choice's held call, judged: its events as they came, or rewritten, or the block's text in their place. */
  #release(choice: number): string {
    const held = this.#held.get(choice);
    if (!held) return '';
    this.#held.delete(choice);
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

const choiceIndex = (choice: Json): number => (typeof choice.index === 'number' ? choice.index : 0);

/** Messages: a `tool_use` block's events, from its content_block_start to its content_block_stop. */
class MessagesGuard extends StreamGuard {
  /** `input`: what the block's start gave, the arguments the SDKs keep when no `input_json_delta` follows. */
  #held: { index: number; name: string; input: string; args: string; raws: string[] } | undefined;
  #released = 0;

  protected override holding(): boolean {
    return this.#held !== undefined;
  }
  #blocked = false;

  protected event(e: SseEvent): string {
    const type = e.name || (e.data.match(/"type"\s*:\s*"([a-z_]+)"/)?.[1] ?? '');
    if (type === 'content_block_start') {
      const start = obj(parseJson(e.data));
      const block = obj(start?.content_block);
      if (block?.type === 'tool_use') {
        this.#held = { index: Number(start!.index), name: typeof block.name === 'string' ? block.name : '', input: argsText(block.input), args: '', raws: [e.raw] };
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
    // Anthropic starts a block with `input: {}` and streams it; a start that carries the input (a compatible host's) is it.
    const finding = this.judge(held.name, held.args === '' ? held.input : held.args);
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

/** A function call of an Interactions stream held from its start: the events that came for it, its name and arguments. */
interface HeldInteractionCall { index: unknown; step: boolean; start: Json; name: string; input: unknown; args: string; raws: string[] }

/**
 * Gemini Interactions: a `function_call` step's events, from its `step.start` to its `step.stop` (same index), or in
 * Google's earlier revision a `function_call` content's, `content.start` to `content.stop`. Its arguments come in
 * `arguments_delta` pieces (the earlier revision's `function_call` delta carries them whole). Kept, the events go out
 * as they came; blocked, a text step (content) with the block's text takes their place. Text and every other event
 * pass unheld; with every call blocked, the interaction's `requires_action` becomes `completed`.
 */
class InteractionsGuard extends StreamGuard {
  readonly #held = new Map<unknown, HeldInteractionCall>();
  /** The text that replaced each blocked call, by index: the final interaction lists it in the call's place. */
  readonly #replaced = new Map<unknown, string>();
  #released = 0;

  protected override holding(): boolean {
    return this.#held.size > 0;
  }

  protected event(e: SseEvent): string {
    const type = e.name || (e.data.match(/"event_type"\s*:\s*"([a-z_.]+)"/)?.[1] ?? '');
    if (type === 'step.start' || type === 'content.start') {
      if (!FUNCTION_CALL.test(e.data)) return e.raw;
      const start = obj(parseJson(e.data));
      const item = obj(start?.step ?? start?.content);
      if (!start || item?.type !== 'function_call') return e.raw;
      this.#held.set(start.index, { index: start.index, step: type === 'step.start', start, name: typeof item.name === 'string' ? item.name : '', input: item.arguments, args: '', raws: [e.raw] });
      return '';
    }
    if (this.#held.size > 0 && (type === 'step.delta' || type === 'step.stop' || type === 'content.delta' || type === 'content.stop')) {
      const event = obj(parseJson(e.data));
      const held = event && this.#held.get(event.index);
      if (held) {
        held.raws.push(e.raw);
        const delta = obj(event.delta);
        if (typeof delta?.name === 'string' && held.name === '') held.name = delta.name;
        if (typeof delta?.arguments === 'string') held.args += delta.arguments;
        else if (delta?.arguments !== undefined) held.input = delta.arguments;
        return type.endsWith('.stop') ? this.#judged(held, e.raw) : '';
      }
    }
    // `interaction.complete`: the earlier revision's name for it (Google's reference: "Legacy event, used when steps are
    // disabled"), which ends a stream of content.* events.
    const completed = type === 'interaction.completed' || type === 'interaction.complete';
    if ((completed || type === 'interaction.status_update') && (this.#replaced.size > 0 || this.#held.size > 0)) {
      const event = obj(parseJson(e.data));
      const interaction = event && (completed ? obj(event.interaction) : event);
      if (interaction && this.#final(interaction)) return named(e.name || type, event!);
    }
    return e.raw;
  }

  #judged(held: HeldInteractionCall, stop: string): string {
    this.#held.delete(held.index);
    const finding = this.judge(held.name, held.args === '' ? argsText(held.input) : held.args);
    if (!finding) {
      this.#released++;
      return held.raws.join('');
    }
    const text = this.blockedText(finding, held.name);
    this.#replaced.set(held.index, text);
    const prefix = held.step ? 'step' : 'content';
    const eventId = held.start.event_id === undefined ? {} : { event_id: held.start.event_id };
    const started = held.step ? { step: { type: 'model_output' } } : { content: { type: 'text' } };
    return named(`${prefix}.start`, { event_type: `${prefix}.start`, index: held.index, ...started, ...eventId })
      + named(`${prefix}.delta`, { event_type: `${prefix}.delta`, index: held.index, delta: { type: 'text', text } })
      + stop;
  }

  /**
   * The interaction as the stream ends it (or a status update): a blocked call's place in its lists holds the text, a
   * call cut off by the end is taken out; `requires_action` → `completed` with no call released. Whether it changed.
   */
  #final(interaction: Json): boolean {
    let changed = false;
    for (const [key, textItem] of INTERACTION_LISTS) {
      const list = interaction[key];
      if (!Array.isArray(list)) continue;
      const out: unknown[] = [];
      list.forEach((entry, index) => {
        const call = obj(entry)?.type === 'function_call';
        const text = call ? this.#replaced.get(index) : undefined;
        if (text !== undefined) out.push(textItem(text));
        else if (!call || !this.#held.has(index)) out.push(entry);
      });
      if (out.length !== list.length || out.some((entry, index) => entry !== list[index])) {
        interaction[key] = out;
        changed = true;
      }
    }
    if (this.#released === 0 && this.#replaced.size > 0 && interaction.status === 'requires_action') {
      interaction.status = 'completed';
      changed = true;
    }
    return changed;
  }

  /** A call cut off by the stream's end is not released: it never completed. */
  protected override flush(): string {
    this.#held.clear();
    return '';
  }
}

/** A Responses event with its sequence number moved by `shift`, written as it is named. */
function renumbered(name: string, event: Json, shift: number): string {
  if (typeof event.sequence_number === 'number') event.sequence_number += shift;
  return named(name || String(event.type), event);
}

/** A Responses call item held from its output_item.added: judged at its output_item.done (`blocked` then says by what). */
interface HeldItem { id: unknown; state: 'open' | 'kept' | 'blocked' | 'cut'; text?: string; done?: Json }

/** An event held while a call is open: its text as received, its JSON, and the call it belongs to, if any. */
interface QueuedEvent { e: SseEvent; event: Json | undefined; owner: HeldItem | undefined }

const TERMINAL_RESPONSE_EVENTS = new Set(['response.completed', 'response.failed', 'response.incomplete']);

/**
 * Responses: from a call item's output_item.added to its output_item.done (by output index), that call's events and
 * every other event after them are held, in order, until no call is open — a translated stream opens several calls
 * before closing the first. Then they go out as they came, a blocked call's events replaced by a message item's (at
 * its output_item.added's place); the events after it are numbered on from there, and the final response object lists
 * the message in the call's place. A call the stream's final event finds still open never completed: its events are
 * dropped and it is taken out of that event's response.
 */
class ResponsesGuard extends StreamGuard {
  /** The calls not yet done, by output index. */
  readonly #open = new Map<unknown, HeldItem>();
  #queue: QueuedEvent[] = [];
  /** How far the events sent are numbered from the provider's (a blocked call's events replaced by as many of a message's). */
  #shift = 0;
  /** What the final response lists in a call's place: the message saying why it was blocked, or nothing (cut off). */
  readonly #replaced = new Map<unknown, Json | undefined>();

  override get sequenceShift(): number {
    return this.#shift;
  }

  protected override holding(): boolean {
    return this.#queue.length > 0;
  }

  protected event(e: SseEvent): string {
    const event = obj(parseJson(e.data));
    const item = obj(event?.item);
    let owner: HeldItem | undefined;
    if (event?.type === 'response.output_item.added' && item && RESPONSES_CALL_TYPES.has(String(item.type))) {
      owner = { id: item.id, state: 'open' };
      this.#open.set(event.output_index, owner);
    } else if (event && 'output_index' in event) {
      owner = this.#open.get(event.output_index);
    }
    if (this.#open.size === 0 && this.#queue.length === 0) return this.#sent(e, event);
    this.#queue.push({ e, event, owner });
    if (owner && event?.type === 'response.output_item.done') {
      this.#open.delete(event.output_index);
      const done = item ?? {};
      const call = responsesCall(done);
      const finding = call && this.judge(call.name, call.args);
      owner.state = finding ? 'blocked' : 'kept';
      if (finding) Object.assign(owner, { text: this.blockedText(finding, call.name), done });
    } else if (event && TERMINAL_RESPONSE_EVENTS.has(String(event.type))) {
      for (const cut of this.#open.values()) cut.state = 'cut';
      this.#open.clear();
    }
    return this.#open.size === 0 ? this.#release() : '';
  }

  /** The events held, in order, now that no call is open. */
  #release(): string {
    const queue = this.#queue;
    this.#queue = [];
    let out = '';
    for (const { e, event, owner } of queue) {
      if (!owner || owner.state === 'kept' || !event) {
        out += this.#sent(e, event);
      } else if (owner.state === 'blocked' && event.type === 'response.output_item.added') {
        out += this.#message(event, owner.done!, owner.text!);
      } else {
        // A blocked call's other events, or a cut-off call's: the message (or nothing) stands in for them.
        if (owner.state === 'cut') this.#replaced.set(owner.id, undefined);
        this.#shift--;
      }
    }
    return out;
  }

  /** An event that goes out: as it came, or renumbered, with the final response listing what replaced the calls. */
  #sent(e: SseEvent, event: Json | undefined): string {
    if (!event) return e.raw;
    const response = obj(event.response);
    if (this.#replaced.size > 0 && response && Array.isArray(response.output)) {
      const output: unknown[] = [];
      for (const entry of response.output) {
        const id = obj(entry)?.id;
        if (!this.#replaced.has(id)) output.push(entry);
        else if (this.#replaced.get(id)) output.push(this.#replaced.get(id));
      }
      response.output = output;
      return renumbered(e.name, event, this.#shift);
    }
    return this.#shift === 0 ? e.raw : renumbered(e.name, event, this.#shift);
  }

  /** A message item's six events in place of a blocked call's output_item.added, numbered from it. */
  #message(added: Json, call: Json, text: string): string {
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
    this.#shift += events.length - 1;
    return out;
  }
}

/** The guard for a stream of the client's surface. */
export function streamGuard(surface: ApiSurface, policies: readonly CompiledPolicy[], noted: FirewallFinding[]): StreamGuard | undefined {
  if (surface === 'chat-completions') return new ChatGuard(policies, noted);
  if (surface === 'responses') return new ResponsesGuard(policies, noted);
  if (surface === 'messages') return new MessagesGuard(policies, noted);
  if (surface === 'stream-generate-content' || surface === 'generate-content') return new GeminiGuard(policies, noted);
  if (surface === 'interactions') return new InteractionsGuard(policies, noted);
  return undefined;
}
