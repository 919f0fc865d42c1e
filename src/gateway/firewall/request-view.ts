// What Firewall's request rules read of a request, per client surface (gateway-behaviour.md "Firewall"): the
// conversation's messages (system and developer instructions, user and assistant text, and earlier tool calls as
// "name arguments"), the results of tools the agent ran, and the tools it offers (name, description and parameters).
// Built only for a key whose policies have request rules.
import type { ApiSurface } from '../../catalog/types.ts';
import type { RequestParts } from '../../domain/firewall.ts';
import { geminiList, geminiMember, geminiMembers, geminiObject, geminiObjects } from '../../domain/gemini-fields.ts';
import { obj } from '../formats/types.ts';
import { objects, type Json } from '../translate/json.ts';

/** The surfaces Firewall screens: ngrok's four (chat completions, Responses, Messages, Gemini generateContent). */
export function screenedSurface(surface: ApiSurface): boolean {
  return surface === 'chat-completions' || surface === 'responses' || surface === 'messages' || surface === 'generate-content' || surface === 'stream-generate-content';
}

/**
 * An InvokeModel body that is Claude's: Anthropic's Messages request (Bedrock requires its `anthropic_version`), not
 * the legacy Text Completions one (`prompt`). Another model's body has its own shape, which nothing here reads.
 */
export function claudeInvokeBody(body: Json): boolean {
  return typeof body.anthropic_version === 'string' && Array.isArray(body.messages) && !('prompt' in body);
}

/**
 * Bedrock's operations Firewall also screens, beyond ngrok's four: Converse and ConverseStream (any model: the shape is
 * Bedrock's), InvokeModel and its stream when the body is Claude's (the shape is then Messages').
 */
export function screenedBedrockTurn(surface: ApiSurface, body: Json): boolean {
  if (surface === 'converse' || surface === 'converse-stream') return true;
  return (surface === 'invoke' || surface === 'invoke-stream') && claudeInvokeBody(body);
}

/**
 * A legacy completion's prompt as text: a string or a list of strings (none when absent); undefined for token ids,
 * which are no text a rule could read.
 */
function promptTexts(prompt: unknown): string[] | undefined {
  if (prompt === undefined || prompt === null) return [];
  if (typeof prompt === 'string') return [prompt];
  return Array.isArray(prompt) && prompt.every((p) => typeof p === 'string') ? prompt as string[] : undefined;
}

/**
 * Turns Firewall screens beyond ngrok's four and Bedrock's: Gemini Interactions (any body: its `input` is read as
 * text, turns, steps or content items), and legacy completions whose prompt is text (`suffix` too, when it is).
 */
export function screenedOtherTurn(surface: ApiSurface, body: Json): boolean {
  if (surface === 'interactions') return true;
  return surface === 'completions' && promptTexts(body.prompt) !== undefined;
}

class Parts {
  readonly messages: string[] = [];
  readonly toolResults: string[] = [];
  readonly toolDefinitions: string[] = [];
  readonly toolNames: string[] = [];
  readonly calledNames: string[] = [];

  call(name: unknown, args: unknown): void {
    const n = typeof name === 'string' ? name : '';
    this.calledNames.push(n);
    this.messages.push(`${n} ${typeof args === 'string' ? args : JSON.stringify(args ?? {})}`);
  }

  tool(name: unknown, description: unknown, parameters: unknown): void {
    const n = typeof name === 'string' ? name : '';
    this.toolNames.push(n);
    const lines = [n];
    if (typeof description === 'string' && description !== '') lines.push(description);
    if (parameters !== undefined && parameters !== null) lines.push(JSON.stringify(parameters));
    this.toolDefinitions.push(lines.join('\n'));
  }

  done(): RequestParts {
    return { messages: this.messages.join('\n'), toolResults: this.toolResults.join('\n'), toolDefinitions: this.toolDefinitions.join('\n'), toolNames: this.toolNames, calledNames: this.calledNames };
  }
}

/** The text of a content value: a string, or the `text` of each of its parts (text, input_text, output_text…). */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  const out: string[] = [];
  for (const part of objects(content)) if (typeof part.text === 'string') out.push(part.text);
  return out.join('\n');
}

/** A tool result's text: its text parts, or what it holds as JSON (a Gemini response object, a structured output). */
function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content) && content.every((p) => typeof obj(p)?.text === 'string')) return textOf(content);
  return content === undefined || content === null ? '' : JSON.stringify(content);
}

function pushText(into: string[], text: string): void {
  if (text !== '') into.push(text);
}

function chat(body: Json, parts: Parts): void {
  for (const m of objects(body.messages)) {
    if (m.role === 'tool' || m.role === 'function') {
      pushText(parts.toolResults, resultText(m.content));
      continue;
    }
    pushText(parts.messages, textOf(m.content));
    for (const call of objects(m.tool_calls)) {
      const fn = obj(call.function) ?? obj(call.custom);
      parts.call(fn?.name, fn?.arguments ?? fn?.input);
    }
    // The legacy `functions` API: still served by OpenAI, so a tool offered or called that way is read as one too.
    const legacy = obj(m.function_call);
    if (legacy) parts.call(legacy.name, legacy.arguments);
  }
  for (const t of objects(body.tools)) {
    const fn = obj(t.function) ?? obj(t.custom) ?? t;
    parts.tool(fn.name ?? t.type, fn.description, fn.parameters ?? fn.format);
  }
  for (const fn of objects(body.functions)) parts.tool(fn.name, fn.description, fn.parameters);
}

function responses(body: Json, parts: Parts): void {
  pushText(parts.messages, textOf(body.instructions));
  const variables = obj(obj(body.prompt)?.variables);
  if (variables) for (const value of Object.values(variables)) pushText(parts.messages, typeof value === 'string' ? value : textOf(obj(value)?.text ?? ''));
  if (typeof body.input === 'string') pushText(parts.messages, body.input);
  for (const item of objects(body.input)) {
    const type = typeof item.type === 'string' ? item.type : 'message';
    if (type === 'message') pushText(parts.messages, textOf(item.content));
    else if (type.endsWith('_call_output')) pushText(parts.toolResults, resultText(item.output));
    else if (type.endsWith('_call')) parts.call(item.name ?? type, item.arguments ?? item.input ?? item.action);
    // A tool list an MCP server gave the conversation: its tools count as offered.
    else if (type === 'mcp_list_tools') for (const t of objects(item.tools)) parts.tool(t.name, t.description, t.input_schema);
  }
  for (const t of objects(body.tools)) parts.tool(t.name ?? t.type, t.description, t.parameters ?? t.format);
}

function messages(body: Json, parts: Parts): void {
  pushText(parts.messages, textOf(body.system));
  for (const m of objects(body.messages)) {
    if (typeof m.content === 'string') {
      pushText(parts.messages, m.content);
      continue;
    }
    for (const block of objects(m.content)) {
      if (block.type === 'tool_result') pushText(parts.toolResults, resultText(block.content));
      else if (block.type === 'tool_use' || block.type === 'server_tool_use') parts.call(block.name, block.input);
      else if (typeof block.text === 'string') pushText(parts.messages, block.text);
      else if (block.type === 'document') pushText(parts.messages, documentText(obj(block.source)));
    }
  }
  for (const t of objects(body.tools)) parts.tool(t.name ?? t.type, t.description, t.input_schema);
}

/** A document block's text, when the client sent it as text (plain text, or content blocks); a file's bytes are not read. */
function documentText(source: Json | undefined): string {
  if (source?.type === 'text' && typeof source.data === 'string') return source.data;
  return source?.type === 'content' ? textOf(source.content) : '';
}

function gemini(body: Json, parts: Parts): void {
  pushText(parts.messages, geminiText(geminiMember(body, 'systemInstruction')));
  for (const content of geminiObjects(body.contents)) {
    for (const part of geminiObjects(geminiMember(content, 'parts'))) {
      const call = geminiObject(part, 'functionCall');
      const response = geminiObject(part, 'functionResponse');
      if (call) parts.call(call.name, call.args ?? {});
      else if (response) pushText(parts.toolResults, resultText(response.response ?? geminiMember(response, 'parts')));
      else if (typeof part.text === 'string') pushText(parts.messages, part.text);
    }
  }
  for (const tool of geminiObjects(body.tools)) {
    for (const fn of geminiObjects(geminiMember(tool, 'functionDeclarations'))) parts.tool(fn.name, fn.description, geminiMember(fn, 'parameters') ?? geminiMember(fn, 'parametersJsonSchema'));
  }
}

/** A Converse content block's text: its text, a guard content's, a document sent as text (its bytes are not read). */
function converseBlockText(block: Json): string {
  if (typeof block.text === 'string') return block.text;
  const guarded = obj(obj(block.guardContent)?.text)?.text;
  if (typeof guarded === 'string') return guarded;
  const source = obj(obj(block.document)?.source);
  if (typeof source?.text === 'string') return source.text;
  return source ? textOf(source.content) : '';
}

function converse(body: Json, parts: Parts): void {
  for (const block of objects(body.system)) pushText(parts.messages, converseBlockText(block));
  for (const m of objects(body.messages)) {
    for (const block of objects(m.content)) {
      const use = obj(block.toolUse);
      const result = obj(block.toolResult);
      if (use) parts.call(use.name, use.input);
      else if (result) pushText(parts.toolResults, resultText(result.content));
      else pushText(parts.messages, converseBlockText(block));
    }
  }
  for (const t of objects(obj(body.toolConfig)?.tools)) {
    const spec = obj(t.toolSpec);
    if (spec) parts.tool(spec.name, spec.description, obj(spec.inputSchema)?.json);
  }
}

/**
 * An Interactions input item: a turn (`role`, `content` a string or items), a step (`user_input` and `model_output`
 * hold content; `function_call`, `function_result`), or a content item (its text; a file's bytes, base64, are not read).
 */
function interactionItem(item: Json, parts: Parts): void {
  if (typeof item.role === 'string') {
    interactionInput(item.content, parts);
    return;
  }
  if (item.type === 'function_call') parts.call(item.name, item.arguments ?? {});
  else if (item.type === 'function_result') pushText(parts.toolResults, resultText(item.result));
  else if (item.type === 'user_input' || item.type === 'model_output') interactionInput(item.content, parts);
  else if (typeof item.text === 'string') pushText(parts.messages, item.text);
}

function interactionInput(input: unknown, parts: Parts): void {
  if (typeof input === 'string') pushText(parts.messages, input);
  else if (Array.isArray(input)) for (const item of objects(input)) interactionItem(item, parts);
  else if (obj(input)) interactionItem(obj(input)!, parts);
}

/** Gemini Interactions: the system instruction (a string, under either of Google's names), the input, function tools. */
function interactions(body: Json, parts: Parts): void {
  for (const instruction of geminiMembers(body, 'systemInstruction')) pushText(parts.messages, geminiText(instruction));
  interactionInput(body.input, parts);
  // Built-in tools (Google Search, code execution, an MCP server…) count as offered under their type or name.
  for (const t of objects(body.tools)) parts.tool(t.name ?? t.type, t.description, t.parameters);
}

function completions(body: Json, parts: Parts): void {
  for (const text of promptTexts(body.prompt) ?? []) pushText(parts.messages, text);
  if (typeof body.suffix === 'string') pushText(parts.messages, body.suffix);
}

/** A Gemini system instruction: a Content (its text parts), or a lone string as Google also takes it. */
function geminiText(instruction: unknown): string {
  if (typeof instruction === 'string') return instruction;
  return geminiList(geminiMember(instruction, 'parts')).map((p) => (typeof obj(p)?.text === 'string' ? obj(p)!.text as string : '')).filter((t) => t !== '').join('\n');
}

/** The parts of a request of a screened surface (or Bedrock's, Interactions' or legacy completions' turn) that request rules read. */
export function requestParts(surface: ApiSurface, body: Json): RequestParts {
  const parts = new Parts();
  if (surface === 'chat-completions') chat(body, parts);
  else if (surface === 'responses') responses(body, parts);
  // Claude's InvokeModel body is Messages' (screenedBedrockTurn).
  else if (surface === 'messages' || surface === 'invoke' || surface === 'invoke-stream') messages(body, parts);
  else if (surface === 'converse' || surface === 'converse-stream') converse(body, parts);
  else if (surface === 'interactions') interactions(body, parts);
  else if (surface === 'completions') completions(body, parts);
  else gemini(body, parts);
  return parts.done();
}
