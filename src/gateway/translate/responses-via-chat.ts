// OpenAI Responses requests (the Vercel AI SDK's default `openai("…")`, the OpenAI Agents SDK) served by a model
// that speaks only chat completions (Gemini, DeepSeek, a local server…; Claude with chat-via-messages after it, composed.ts): input items,
// instructions, images, function and custom (freeform) tools, calls and their outputs, structured output, reasoning
// effort, usage and errors are mapped both ways; streams are rebuilt as Responses events. docs/decisions/translation.md.
import type { AttemptPlan } from '../../domain/routing.ts';
import { obj, parseJson } from '../formats/types.ts';
import { openaiUsage } from '../formats/openai.ts';
import type { TranslatedRequest, TranslationScope, Translator } from './types.ts';
import { randomBase62 } from '../../domain/ids.ts';
import { storedItems } from './stored-items.ts';
import { assistantText, isRunOutput, unplacedItemReason, userParts } from './responses-items.ts';
import { FromChatStream, UnnamedCalls } from './chat-stream.ts';
import { ChatToolNames, clientToolName } from './tool-names.ts';
import { providerErrorKind } from '../formats/provider-error.ts';
import { chatReasoning, chatText, objects, quotedPartType, sealedReasoning, uniqueCallId, unsealedReasoning, type Json } from './json.ts';
import { acceptsReasoningEffort, asksUsageChunk, fittedOutputLimit, overMessages } from './output-limit.ts';
import { openaiError } from './openai-error.ts';

const MAPPED = new Set(['model', 'models', 'input', 'instructions', 'max_output_tokens', 'temperature', 'top_p', 'stream', 'tools', 'tool_choice', 'parallel_tool_calls', 'text', 'reasoning', 'user']);


/** A message's content as chat content: a string, or parts (text, images, files). */
function chatContent(content: unknown): unknown {
  if (typeof content === 'string') return content;
  const parts: Json[] = [];
  for (const part of objects(content)) {
    if ((part.type === 'input_text' || part.type === 'output_text' || part.type === 'text') && typeof part.text === 'string') parts.push({ type: 'text', text: part.text });
    // An earlier answer's refusal (an assistant message's part) is what the assistant said: its text. Chat's own
    // refusal part and field are OpenAI's; the servers this translation reaches, and Messages after it, take text.
    else if (part.type === 'refusal' && typeof part.refusal === 'string') parts.push({ type: 'text', text: part.refusal });
    else if (part.type === 'input_image' && typeof part.image_url === 'string') parts.push({ type: 'image_url', image_url: { url: part.image_url, ...(typeof part.detail === 'string' ? { detail: part.detail } : {}) } });
    // Audio goes as chat's own audio part, of the same shape (`{data, format}`); Messages has none (index.ts refuses it).
    else if (part.type === 'input_audio' && obj(part.input_audio)) parts.push({ type: 'input_audio', input_audio: part.input_audio });
    else if (part.type === 'input_file' && typeof part.file_data === 'string') parts.push({ type: 'file', file: { file_data: part.file_data, ...(typeof part.filename === 'string' ? { filename: part.filename } : {}) } });
    // Only on the way to Messages (a chat target refuses the request first: index.ts): chat-via-messages sends it
    // as a URL document, which Anthropic fetches.
    else if (part.type === 'input_file' && typeof part.file_url === 'string') parts.push({ type: 'file', file: { file_url: part.file_url } });
  }
  return parts.length === 1 && parts[0]!.type === 'text' ? parts[0]!.text : parts;
}

/** The message content parts `chatContent` places: a part of any other type would be left out. */
const PLACED_PARTS = new Set(['input_text', 'output_text', 'text', 'refusal', 'input_image', 'input_audio', 'input_file']);

/**
 * Why a Responses request's input cannot go to `target` (named for the client: chat completions, Anthropic Messages),
 * if it cannot: an item only OpenAI can give meaning to, or of a type the translation does not know
 * (`unplacedItemReason`), or a content part of a type it has no place for, would be left out, and the model would
 * answer without it, the client never told.
 */
export function unplacedInputReason(input: unknown, target: string): string | undefined {
  const item = unplacedItemReason(input, target);
  if (item !== undefined) return item;
  const part = objects(input).filter((i) => (i.type ?? 'message') === 'message').flatMap((i) => objects(i.content)).find((p) => !PLACED_PARTS.has(String(p.type)));
  if (part) return `it sends a content part of type ${quotedPartType(part.type)}, which ${target} cannot carry; send it as text instead`;
  const output = toolOutputs(input).flatMap((i) => objects(i.output)).find((p) => !OUTPUT_PARTS.has(String(p.type)));
  return output ? `it sends a tool output part of type ${quotedPartType(output.type)}, which ${target} cannot carry in a tool output; send it as text instead` : undefined;
}

/**
 * The parts of a tool output `toolOutput` places (Responses' own three: text, image, file; `output_text` and `text`
 * as a client echoing answer parts writes them): any other would be left out of the call's result.
 */
const OUTPUT_PARTS = new Set(['input_text', 'output_text', 'text', 'input_image', 'input_file']);

/** Whether an input item is a tool's output (a function's, a custom tool's): its `output` is the call's result. */
const isToolOutput = (type: unknown): boolean => type === 'function_call_output' || type === 'custom_tool_call_output';

const toolOutputs = (input: unknown): Json[] => objects(input).filter((i) => isToolOutput(i.type));

/**
 * Why a part of a known type cannot be read as its type, naming the member at fault, if one cannot: a part the
 * translation could not place was dropped, and the model answered without it. Sent as it is, OpenAI refuses the
 * same request, so a translated one is refused too (index.ts: the client's own 400, not "cannot be translated").
 */
function malformedPart(part: Json, at: string): string | undefined {
  const string = (name: string) => typeof part[name] === 'string';
  switch (part.type) {
    case 'input_text': case 'output_text': case 'text': return string('text') ? undefined : `"${at}.text" must be a string`;
    case 'refusal': return string('refusal') ? undefined : `"${at}.refusal" must be a string`;
    case 'input_image': return string('image_url') || string('file_id') ? undefined : `"${at}" (an input_image) needs "image_url" or "file_id", a string`;
    case 'input_file': return string('file_data') || string('file_url') || string('file_id') ? undefined : `"${at}" (an input_file) needs "file_data", "file_url" or "file_id", a string`;
    case 'input_audio': return obj(part.input_audio) ? undefined : `"${at}.input_audio" must be an object ({"data", "format"})`;
    default: return undefined;
  }
}

/** The first malformed part of a Responses request's messages and tool outputs (`malformedPart`), if any. */
export function malformedInputReason(input: unknown): string | undefined {
  if (!Array.isArray(input)) return undefined;
  for (const [i, item] of input.entries()) {
    const it = obj(item);
    if (!it) continue;
    const type = it.type ?? 'message';
    const member = type === 'message' ? 'content' : isToolOutput(type) ? 'output' : undefined;
    const parts = member === undefined ? undefined : it[member];
    if (!Array.isArray(parts)) continue;
    for (const [j, value] of parts.entries()) {
      const part = obj(value);
      const reason = part ? malformedPart(part, `input[${i}].${member}[${j}]`) : undefined;
      if (reason !== undefined) return reason;
    }
  }
  return undefined;
}

function outputTexts(output: unknown): string[] {
  if (typeof output === 'string') return [output];
  return objects(output).filter((p) => typeof p.text === 'string').map((p) => p.text as string);
}

/**
 * A tool output's text as a tool message's content: always a string, parts on their own lines. Several chat servers
 * (DeepSeek, Groq, Qwen) refuse a tool message whose content is an array, and a newline keeps parts from running together.
 */
function outputContent(output: unknown): string {
  return outputTexts(output).join('\n');
}

/**
 * A tool's output as chat takes it: the text in a `tool` message; images and files it returned (the Vercel AI SDK
 * sends them as `input_image`/`input_file` parts) in a user message right after, saying which call they came from.
 */
function toolOutput(item: Json, messages: Json[], media: Json[]): void {
  messages.push({ role: 'tool', tool_call_id: item.call_id, content: outputContent(item.output) });
  const parts = outputMedia(item.output);
  if (parts.length > 0) media.push({ type: 'text', text: `Output of tool call ${String(item.call_id)}:` }, ...parts);
}

/** The images and files of a tool output, as chat parts. */
function outputMedia(output: unknown): Json[] {
  const parts = chatContent(objects(output).filter((p) => p.type === 'input_image' || p.type === 'input_file'));
  return Array.isArray(parts) ? parts as Json[] : [];
}

/** The media of a run of tool outputs, after the run: chat wants a call's results right after the call. */
function flushMedia(messages: Json[], media: Json[]): void {
  if (media.length === 0) return;
  messages.push({ role: 'user', content: media.splice(0) });
}

/** The reasoning item of an answer: its text as one summary part, its signed reasoning as `encrypted_content`. */
function reasoningItem(base: string, text: string, details: readonly Json[]): Json {
  return { type: 'reasoning', id: `rs_${base}`, summary: text === '' ? [] : [{ type: 'summary_text', text }], ...(details.length > 0 ? { encrypted_content: sealedReasoning(details) } : {}) };
}

function chatMessages(body: Json, names: ChatToolNames, claude: boolean): Json[] {
  const messages: Json[] = [];
  /** Claude's signed reasoning from a reasoning item, for the assistant message of its turn. */
  let reasoning: Json[] = [];
  const assistant = (message: Json): Json => {
    if (reasoning.length > 0) message.reasoning_details = reasoning;
    reasoning = [];
    return message;
  };
  if (typeof body.instructions === 'string' && body.instructions !== '') messages.push({ role: 'system', content: body.instructions });
  if (typeof body.input === 'string') {
    messages.push({ role: 'user', content: body.input });
    return messages;
  }
  const media: Json[] = [];
  /** Call ids sent as chat tool calls: an output whose call is not among them goes as text (see below). */
  const calls = new Set<unknown>();
  // References to output the gateway kept were written out before (pipeline.ts); a request with any other is
  // never translated, so none is left here.
  for (const item of objects(body.input)) {
    const type = item.type ?? 'message';
    // Outputs wait with their media until the run of tool messages is over: chat wants those right after the call.
    if (!isToolOutput(type) && !isRunOutput(type)) flushMedia(messages, media);
    /** What the assistant did, for a call chat has no call for (a shell's, a hosted tool's). */
    const said = assistantText(item);
    if (type === 'message') {
      const role = item.role === 'developer' ? 'system' : item.role;
      const content = chatContent(item.content);
      // Nothing chat can carry (only reasoning, or parts it has no place for): an empty message some servers refuse.
      if (content !== '' && !(Array.isArray(content) && content.length === 0)) messages.push(role === 'assistant' ? assistant({ role, content }) : { role, content });
    } else if (type === 'function_call' || type === 'custom_tool_call') {
      // A freeform call (Codex's apply_patch) went up as a call of the function its tool became (customTool below).
      const args = type === 'custom_tool_call' ? JSON.stringify({ input: typeof item.input === 'string' ? item.input : '' }) : typeof item.arguments === 'string' ? item.arguments : '{}';
      const call = { id: item.call_id, type: 'function', function: { name: names.nameOf(item.name), arguments: args } };
      calls.add(item.call_id);
      // Calls made in one turn share one assistant message, after any text of that turn.
      const last = messages.at(-1);
      if (last?.role === 'assistant') ((last.tool_calls ??= []) as Json[]).push(call);
      else messages.push(assistant({ role: 'assistant', content: null, tool_calls: [call] }));
    } else if (type === 'reasoning' && claude) {
      // Claude's thinking, signed, goes back with the turn it came in: Claude requires it in a turn of tool use.
      // The item comes before its turn's message and calls (after them only when the turn had no summary to stream).
      const details = unsealedReasoning(item.encrypted_content);
      const last = messages.at(-1);
      if (last?.role === 'assistant' && last.reasoning_details === undefined) last.reasoning_details = details;
      else reasoning = details;
    } else if (isToolOutput(type) && calls.has(item.call_id)) {
      toolOutput(item, messages, media);
    } else if (said !== undefined) {
      const last = messages.at(-1);
      if (last?.role === 'assistant' && (last.content === null || typeof last.content === 'string')) last.content = last.content ? `${last.content}\n${said}` : said;
      else messages.push({ role: 'assistant', content: said });
      // What it made (a generated image) follows as the user's, as an output does.
      media.push(...(userParts(item) ?? []));
    } else if (isRunOutput(type)) {
      media.push(...userParts(item)!);
    } else if (isToolOutput(type)) {
      // An output whose call chat never saw (Codex sends its shell's output this way): a tool message would answer
      // no call, which Claude refuses (and OpenAI too); as the user's text it still reaches the model.
      // It waits with the run's media, so no text comes between a call and its tool messages.
      // Images and files it returned follow it, as a paired output's do (toolOutput).
      media.push({ type: 'text', text: `Output of tool call ${String(item.call_id)}:\n${outputTexts(item.output).join('\n')}` }, ...outputMedia(item.output));
    }
    // Other reasoning items are the model's own, encrypted for OpenAI: another model can read none of it, and OpenAI's
    // own models drop earlier turns' reasoning from their context. Declarations (tools, an effort) are read by request().
  }
  flushMedia(messages, media);
  return messages;
}

/** The tools chat is offered as functions: function tools, and custom (freeform) ones, which become functions. */
function isChatTool(tool: Json): boolean {
  return tool.type === 'function' || tool.type === 'custom';
}

/**
 * Why the request's tools cannot become chat functions, if they cannot: two function or custom tools of one name
 * (Codex's freeform apply_patch beside a function apply_patch). Chat tells functions apart by name alone, so the
 * model's call could not be answered as the tool it meant (a `custom_tool_call` or a `function_call`), nor the
 * call's input read by the right schema. Refused as a provider refuses duplicate names (Anthropic: "Tool names must
 * be unique"), before any model is called, naming the name.
 */
export function duplicateToolReason(tools: unknown): string | undefined {
  const kinds = new Map<string, string>();
  for (const tool of objects(tools).filter(isChatTool)) {
    if (typeof tool.name !== 'string') continue;
    const kind = tool.type === 'custom' ? 'a custom tool' : 'a function tool';
    const first = kinds.get(tool.name);
    if (first !== undefined) return `"tools" names "${tool.name}" twice (${first} and ${kind}): tool names must be unique.`;
    kinds.set(tool.name, kind);
  }
  return undefined;
}

/** Room a custom tool's grammar may take in its function's description: Codex's apply_patch grammar fits whole. */
export const GRAMMAR_LIMIT = 4_000;

/**
 * A custom tool (Codex's apply_patch: freeform text, often held to a Lark or regex grammar) as chat takes it: a
 * function of one string argument, `input`. Chat has no grammar-constrained sampling, so the grammar goes in the
 * description for the model to follow — cut at GRAMMAR_LIMIT, so a huge one does not fill the context.
 */
function customTool(tool: Json, names: ChatToolNames): Json {
  const format = obj(tool.format);
  let description = typeof tool.description === 'string' ? tool.description : '';
  if (format?.type === 'grammar' && typeof format.definition === 'string') {
    const definition = format.definition.length > GRAMMAR_LIMIT ? `${format.definition.slice(0, GRAMMAR_LIMIT)}\n[… grammar cut at ${GRAMMAR_LIMIT} characters]` : format.definition;
    const syntax = typeof format.syntax === 'string' ? `${format.syntax} ` : '';
    description += `${description === '' ? '' : '\n\n'}The input must follow this ${syntax}grammar:\n${definition}`;
  }
  const input = { type: 'string', description: 'The tool\'s whole input, as raw text (not JSON).' };
  return { type: 'function', function: { name: names.nameOf(tool.name), ...(description !== '' ? { description } : {}), parameters: { type: 'object', properties: { input }, required: ['input'] } } };
}

/** The names of the request's custom tools: a chat call of one of them is answered as a `custom_tool_call`. */
function customToolNames(request: Json | undefined): Set<string> {
  return new Set(requestTools(request).filter((t) => t.type === 'custom' && typeof t.name === 'string').map((t) => t.name as string));
}

/**
 * A custom call's input, from the arguments of the function call the model made: its `input` string. Arguments
 * that are not such an object (a model that wrote the raw text, or was cut mid-call) are the input as they are.
 */
function customInput(args: string): string {
  const input = obj(parseJson(args))?.input;
  return typeof input === 'string' ? input : args;
}

function toolChoice(choice: unknown, openai: boolean, names: ChatToolNames): unknown {
  if (typeof choice === 'string') return choice;
  const c = obj(choice);
  if (c?.type === 'function' || c?.type === 'custom') return { type: 'function', function: { name: names.nameOf(c.name) } };
  // A subset of the tools (the rest stay offered, for the prompt cache): chat's shape of the same choice at OpenAI;
  // elsewhere (DeepSeek, Gemini, a Messages model) only the mode, the tools themselves narrowed in request().
  if (c?.type === 'allowed_tools') {
    const mode = c.mode === 'required' ? 'required' : 'auto';
    if (!openai) return mode;
    const tools = objects(c.tools).filter(isChatTool).map((t) => ({ type: 'function', function: { name: names.nameOf(t.name) } }));
    return { type: 'allowed_tools', allowed_tools: { mode, tools } };
  }
  return 'auto';
}

/** The function names an `allowed_tools` choice permits; undefined for any other choice. */
function allowedNames(choice: unknown): Set<string> | undefined {
  const c = obj(choice);
  if (c?.type !== 'allowed_tools') return undefined;
  return new Set(objects(c.tools).filter(isChatTool).map((t) => String(t.name)));
}

/** Responses' `text.format` → chat's `response_format`. */
function responseFormat(text: unknown): Json | undefined {
  const format = obj(obj(text)?.format);
  if (format?.type === 'json_schema') return { type: 'json_schema', json_schema: { name: format.name ?? 'response', schema: format.schema, ...(format.strict !== undefined ? { strict: format.strict } : {}) } };
  if (format?.type === 'json_object') return { type: 'json_object' };
  return undefined;
}

function request(body: Json, plan: AttemptPlan): TranslatedRequest {
  const removed: string[] = [];
  for (const name of Object.keys(body)) if (!MAPPED.has(name)) removed.push(name);
  const names = new ChatToolNames(requestToolNames(body));
  // Claude (through Messages) takes back the reasoning it signed; a chat model has no place for it.
  const out: Json = { model: body.model, messages: chatMessages(body, names, overMessages(plan)) };
  if (body.max_output_tokens !== undefined && body.max_output_tokens !== null) out.max_tokens = fittedOutputLimit(body.max_output_tokens, plan);
  if (body.temperature !== undefined && body.temperature !== null) out.temperature = body.temperature;
  if (body.top_p !== undefined && body.top_p !== null) out.top_p = body.top_p;
  if (asksUsageChunk(body, plan)) out.stream_options = { include_usage: true };
  if (body.stream !== undefined) out.stream = body.stream;
  if (typeof body.user === 'string') out.user = body.user;
  // Function tools map one to one, custom ones become functions; hosted tools (web search, file search, code
  // interpreter…) run only at OpenAI. Tools a tool search loaded, or an item added, are the request's too.
  const tools = requestTools(body);
  const openai = plan.candidate.provider.id === 'openai';
  const allowed = openai ? undefined : allowedNames(body.tool_choice);
  const functionTools = uniqueTools(tools.filter(isChatTool));
  if (tools.some((t) => !isChatTool(t))) removed.push('tools');
  const functions = allowed ? functionTools.filter((t) => allowed.has(String(t.name))) : functionTools;
  if (functions.length > 0) {
    out.tools = functions.map((t) => t.type === 'custom' ? customTool(t, names) : { type: 'function', function: { name: names.nameOf(t.name), ...(t.description !== undefined && t.description !== null ? { description: t.description } : {}), parameters: t.parameters ?? { type: 'object' }, ...(typeof t.strict === 'boolean' ? { strict: t.strict } : {}) } });
    if (body.tool_choice !== undefined) out.tool_choice = toolChoice(body.tool_choice, openai, names);
    if (typeof body.parallel_tool_calls === 'boolean') out.parallel_tool_calls = body.parallel_tool_calls;
  } else {
    if (body.tool_choice !== undefined) removed.push('tool_choice');
    if (body.parallel_tool_calls !== undefined) removed.push('parallel_tool_calls');
  }
  if (body.text !== undefined) {
    const text = obj(body.text);
    const format = responseFormat(body.text);
    if (format) out.response_format = format;
    const formatLost = !format && text?.format !== undefined && obj(text.format)?.type !== 'text';
    // GPT-5's answer length (`verbosity`) has no counterpart on the chat servers this translation reaches.
    const verbosityLost = text?.verbosity !== undefined && text.verbosity !== null;
    if (formatLost || verbosityLost || (body.text !== null && !text)) removed.push('text');
  }
  // A `configuration_update` item sets the effort from where it stands on: the last one is the effort of this answer.
  const updated = updatedEffort(body.input);
  const effort = updated ?? obj(body.reasoning)?.effort;
  if ((body.reasoning !== undefined && body.reasoning !== null) || updated !== undefined) {
    if (typeof effort === 'string' && acceptsReasoningEffort(plan)) out.reasoning_effort = effort;
    else removed.push(updated !== undefined ? 'configuration_update' : 'reasoning');
  }
  return names.back.size > 0 ? { body: out, removed, clientFields: CLIENT_FIELDS, toolNames: names.back } : { body: out, removed, clientFields: CLIENT_FIELDS };
}

/** The names of a request's tools and earlier calls (ChatToolNames keeps those that fit for themselves). */
function requestToolNames(body: Json): unknown[] {
  const called = Array.isArray(body.input) ? objects(body.input).filter((i) => i.type === 'function_call' || i.type === 'custom_tool_call') : [];
  return [...requestTools(body), ...called].map((t) => t.name);
}

/**
 * A request's tools: its `tools`, then those its input made available — a tool search's output (`tool_search_output`:
 * the deferred tools it loaded, which the history's calls may name) and `additional_tools` items. Chat declares
 * tools once, for the whole request, so they are offered from the start.
 */
function requestTools(body: Json | undefined): Json[] {
  const loaded = objects(body?.input).filter((i) => i.type === 'tool_search_output' || i.type === 'additional_tools').flatMap((i) => objects(i.tools));
  return [...objects(body?.tools), ...loaded];
}

/** Tools by name, the first of each name kept: a tool search may load a tool the request already offers. */
function uniqueTools(tools: readonly Json[]): Json[] {
  const seen = new Set<unknown>();
  return tools.filter((t) => !seen.has(t.name) && seen.add(t.name));
}

/** The reasoning effort the input's last `configuration_update` item sets, if one does. */
function updatedEffort(input: unknown): unknown {
  return objects(input).filter((i) => i.type === 'configuration_update').map((i) => obj(i.reasoning)?.effort).filter((e) => e !== undefined && e !== null).at(-1);
}

/**
 * The chat fields this translation writes under another name than the client's field, by that field: what the model
 * refuses of them (params.ts) is named as the client sent it (`max_output_tokens`, not the chat `max_tokens`).
 */
const CLIENT_FIELDS: Readonly<Record<string, string>> = {
  max_tokens: 'max_output_tokens', max_completion_tokens: 'max_output_tokens', response_format: 'text', reasoning_effort: 'reasoning', messages: 'input',
};

/**
 * Read as the meter reads it (formats/openai.ts), so the client is told what it is billed for: cache hits where
 * DeepSeek and Kimi put them (top level), reasoning that Gemini counts only in its total (output, as Responses
 * counts it).
 */
function responseUsage(usage: unknown): Json {
  const u = openaiUsage(usage);
  const input = u?.inputTokens ?? 0;
  const output = u?.outputTokens ?? 0;
  return {
    input_tokens: input, input_tokens_details: { cached_tokens: u?.cacheReadTokens ?? 0 },
    output_tokens: output, output_tokens_details: { reasoning_tokens: u?.reasoningTokens ?? 0 },
    total_tokens: input + output,
  };
}

/**
 * A translated response's id: `resp_tg…`. OpenAI's are hexadecimal after `resp_`, so a `t` tells the gateway's
 * apart — a client sending one back as `previous_response_id` is told no provider holds it (pipeline.ts).
 */
const TRANSLATED_RESPONSE = /^resp_tg[A-Za-z0-9]{24}$/;

export function isTranslatedResponseId(id: unknown): boolean {
  return typeof id === 'string' && TRANSLATED_RESPONSE.test(id);
}

/**
 * Ids of our own for the response and its items: a client may refer back to an item by id (`item_reference`), so
 * they must be unique, which the provider's chat ids are not always (a local server may repeat one).
 */
function newBaseId(): string {
  return randomBase62(24);
}

/** A message's one content part: output text, or a refusal (its own part type, which `output_text` and `parse()` leave out). */
type PartKind = 'output_text' | 'refusal';

function contentPart(kind: PartKind, text: string, annotations: readonly Json[] = []): Json {
  return kind === 'refusal' ? { type: 'refusal', refusal: text } : { type: 'output_text', text, annotations };
}

function messageItem(base: string, text: string, status: string, kind: PartKind = 'output_text', annotations: readonly Json[] = []): Json {
  return { type: 'message', id: `msg_${base}`, status, role: 'assistant', content: text === '' && status !== 'completed' ? [] : [contentPart(kind, text, annotations)] };
}

/**
 * A chat answer's citations (`annotations`: OpenAI's search models, OpenRouter's web search) as Responses' output text
 * annotations, of the same fields flattened (`{type: "url_citation", url_citation: {start_index, end_index, title,
 * url}}` → `{type: "url_citation", start_index, end_index, title, url}`). They were left out, and a client showing
 * sources showed none.
 */
function textAnnotations(annotations: unknown): Json[] {
  return objects(annotations).flatMap((a) => {
    const cite = obj(a.url_citation);
    return a.type === 'url_citation' && cite && typeof cite.url === 'string'
      ? [{ type: 'url_citation', start_index: cite.start_index ?? 0, end_index: cite.end_index ?? 0, title: cite.title ?? '', url: cite.url }]
      : [];
  });
}

function callItem(base: string, index: number, call: { id: string; name: string; arguments: string }, status: string): Json {
  return { type: 'function_call', id: `fc_${base}${index}`, call_id: call.id, name: call.name, arguments: call.arguments, status };
}

/**
 * A call's arguments as the client gets them: none at all ('', from a server calling a tool that takes none so) are `{}`, as OpenAI
 * writes them — the OpenAI SDK parses a strict tool's arguments, and '' is no JSON (it threw).
 */
function finishedArguments(args: string): string {
  return args === '' ? '{}' : args;
}

/** A call of a custom tool: its input unwrapped from the function call's arguments (customTool). */
function customCallItem(base: string, index: number, call: { id: string; name: string }, input: string, status: string): Json {
  return { type: 'custom_tool_call', id: `ctc_${base}${index}`, call_id: call.id, name: call.name, input, status };
}

/** A call's id (uniqueCallId): the OpenAI SDK's stream reader refuses two calls with one id. */
function callId(id: unknown, base: string, index: number, used: Set<string>): string {
  return uniqueCallId(id, 'call_', base, index, used);
}

function keep(scope: TranslationScope, items: readonly Json[]): void {
  if (!scope.keep) return;
  for (const item of items) storedItems.put(scope.accountId, item);
}

/** Finish reasons that leave the answer incomplete, and the reason Responses gives: cut at the limit, or refused. */
const INCOMPLETE: Readonly<Record<string, string>> = { length: 'max_output_tokens', content_filter: 'content_filter' };

/** The response object; a cut or refused answer is `incomplete`, as Responses reports it (SDKs read the reason). */
function responseObject(id: string, model: unknown, created: unknown, output: Json[], finish: unknown, usage: Json | null, request: Json | undefined): Json {
  const reason = typeof finish === 'string' && Object.hasOwn(INCOMPLETE, finish) ? INCOMPLETE[finish] : undefined;
  return {
    id: `resp_tg${id}`, object: 'response', created_at: typeof created === 'number' ? created : Math.floor(Date.now() / 1000), model: model ?? '',
    status: reason ? 'incomplete' : 'completed', error: null, incomplete_details: reason ? { reason } : null,
    output, ...echoed(request), usage,
  };
}

/** What a Responses object repeats of its request, as OpenAI's does (tracing and loggers show it): the client's values, else the defaults. */
function echoed(request: Json | undefined): Json {
  const r = request ?? {};
  return {
    instructions: typeof r.instructions === 'string' ? r.instructions : null,
    max_output_tokens: typeof r.max_output_tokens === 'number' ? r.max_output_tokens : null,
    parallel_tool_calls: typeof r.parallel_tool_calls === 'boolean' ? r.parallel_tool_calls : true,
    temperature: typeof r.temperature === 'number' ? r.temperature : null,
    tool_choice: r.tool_choice ?? 'auto',
    tools: Array.isArray(r.tools) ? r.tools : [],
    top_p: typeof r.top_p === 'number' ? r.top_p : null,
  };
}

function answer(upstream: unknown, scope: TranslationScope): unknown {
  const chat = obj(upstream) ?? {};
  const choice = obj(Array.isArray(chat.choices) ? chat.choices[0] : undefined);
  const message = obj(choice?.message) ?? {};
  const base = newBaseId();
  const output: Json[] = [];
  // The model's reasoning (Claude's thinking, DeepSeek's reasoning_content) first, as OpenAI's reasoning models give it.
  const thought = chatReasoning(message);
  const details = objects(message.reasoning_details);
  if (thought !== '' || details.length > 0) output.push(reasoningItem(base, thought, details));
  const content = chatText(message.content);
  const refusal = typeof message.refusal === 'string' ? message.refusal : '';
  // A refusal alone is a refusal part; beside text (no model sends both) it is text, as it was.
  if (content + refusal !== '') output.push(messageItem(base, content + refusal, 'completed', content === '' ? 'refusal' : 'output_text', textAnnotations(message.annotations)));
  const custom = customToolNames(scope.request);
  const ids = new Set<string>();
  objects(message.tool_calls).forEach((call, index) => {
    const fn = obj(call.function);
    const made = { id: callId(call.id, base, index, ids), name: String(clientToolName(fn?.name, scope.toolNames) ?? ''), arguments: finishedArguments(typeof fn?.arguments === 'string' ? fn.arguments : '') };
    output.push(custom.has(made.name) ? customCallItem(base, index, made, customInput(made.arguments), 'completed') : callItem(base, index, made, 'completed'));
  });
  // Cut at the output limit: the last item was being written (a call's arguments may be half a JSON document).
  if (choice?.finish_reason === 'length' && output.length > 0) output[output.length - 1]!.status = 'incomplete';
  keep(scope, output);
  return responseObject(base, chat.model, chat.created, output, choice?.finish_reason, responseUsage(chat.usage), scope.request);
}

/** `custom`: a call of a custom tool, whose input can be unwrapped only from its whole arguments (at the close). */
interface OpenCall { id: string; name: string; arguments: string; outputIndex: number; index: number; custom: boolean }

/**
 * A chat provider's mid-stream error as a Responses `error` event's code: the provider's own code when it is a name
 * (`rate_limit_exceeded`, `server_error`), else OpenAI's name for what it says happened — OpenRouter's numeric 429
 * is `rate_limit_exceeded`, not a failure the client should retry at once.
 */
function responsesErrorCode(error: Json): string {
  if (typeof error.code === 'string' && error.code !== '' && !/^\d+$/.test(error.code)) return error.code;
  return providerErrorKind(error) === 'rate-limited' ? 'rate_limit_exceeded' : 'server_error';
}

/** Chat completion chunks → Responses events, each numbered, ending with response.completed (or .incomplete). */
class ChatToResponses extends FromChatStream {
  readonly #scope: TranslationScope;
  #sequence = 0;

  nextSequence(): number {
    return this.#sequence;
  }

  #id = newBaseId();
  #model: unknown = '';
  #created: unknown;
  /** Items in output order, as they will be in the final response. */
  #items: Json[] = [];
  /** The message item's output index, once opened. */
  #message: number | undefined;
  /** Its one content part, once its kind is known. */
  #text: { outputIndex: number; text: string; kind: PartKind } | undefined;
  /** Refusal pieces not yet sent: text may still follow, and a refusal beside text is text. */
  #heldRefusal = '';
  /** The text's citations (textAnnotations), as they come: announced as they do, and in the text's final events. */
  #annotations: Json[] = [];
  #calls = new Map<number, OpenCall>();
  /** The reasoning item, once the model reasons: its output index and summary so far. */
  #reasoning: { outputIndex: number; text: string } | undefined;
  /** The answer's signed reasoning (it comes whole, at the end): the reasoning item's `encrypted_content`. */
  #details: Json[] = [];
  /** The call ids given so far (callId). */
  #callIds = new Set<string>();
  /** Calls whose name has not come yet: the name says what the item is (a custom tool's call or a function's). */
  readonly #unnamed = new UnnamedCalls();
  #finish: unknown;
  #usage: Json | null = null;
  readonly #customTools: Set<string>;

  constructor(scope: TranslationScope) {
    super();
    this.#scope = scope;
    this.#customTools = customToolNames(scope.request);
  }

  #emit(type: string, data: Json): void {
    this.out += `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.#sequence++, ...data })}\n\n`;
  }

  protected started(chunk: Json): void {
    this.#model = chunk.model ?? '';
    this.#created = chunk.created;
    const response = { ...responseObject(this.#id, this.#model, this.#created, [], undefined, null, this.#scope.request), status: 'in_progress' };
    this.#emit('response.created', { response });
    this.#emit('response.in_progress', { response });
  }

  protected usage(usage: unknown): void {
    this.#usage = responseUsage(usage);
  }

  // Text, reasoning and refusals are kept whole, as the calls are: the final events repeat the whole output.
  protected text(piece: string): void {
    this.kept += piece.length;
    this.#piece(piece);
  }

  /** Reasoning streams as the reasoning item's summary (as OpenAI's reasoning summaries stream). */
  protected override reasoning(piece: string): void {
    this.kept += piece.length;
    const open = this.#reasoning ?? this.#openReasoning();
    if (open.text === '') this.#emit('response.reasoning_summary_part.added', { item_id: `rs_${this.#id}`, output_index: open.outputIndex, summary_index: 0, part: { type: 'summary_text', text: '' } });
    open.text += piece;
    this.#emit('response.reasoning_summary_text.delta', { item_id: `rs_${this.#id}`, output_index: open.outputIndex, summary_index: 0, delta: piece });
  }

  protected override reasoningDetails(details: Json[]): void {
    this.#details = details;
  }

  #openReasoning(): { outputIndex: number; text: string } {
    const open = { outputIndex: this.#items.length, text: '' };
    this.#reasoning = open;
    this.#items.push(reasoningItem(this.#id, '', []));
    this.#emit('response.output_item.added', { output_index: open.outputIndex, item: reasoningItem(this.#id, '', []) });
    return open;
  }

  /**
   * The reasoning item's end, at the close: its signed reasoning comes whole after the answer (in the finish chunk),
   * and the item is done only with it. Redacted thinking alone (no summary streamed) is an item of its own.
   */
  #closeReasoning(): void {
    if (!this.#reasoning && this.#details.length === 0) return;
    const open = this.#reasoning ?? this.#openReasoning();
    const at = { item_id: `rs_${this.#id}`, output_index: open.outputIndex, summary_index: 0 };
    if (open.text !== '') {
      this.#emit('response.reasoning_summary_text.done', { ...at, text: open.text });
      this.#emit('response.reasoning_summary_part.done', { ...at, part: { type: 'summary_text', text: open.text } });
    }
    this.#items[open.outputIndex] = reasoningItem(this.#id, open.text, this.#details);
    this.#emit('response.output_item.done', { output_index: open.outputIndex, item: this.#items[open.outputIndex] });
  }

  /**
   * A refusal is its own part, streamed with `response.refusal.*` events, as OpenAI's Responses API sends it — when
   * it stands alone: beside text it is text, as in an answer (answer()). Its pieces are held until the message's
   * text or its end says which.
   */
  protected override refusal(piece: string): void {
    this.kept += piece.length;
    if (this.#text?.kind === 'output_text') this.#piece(piece);
    else {
      this.#open();
      this.#heldRefusal += piece;
    }
  }

  /** The message item, opened at the first piece of text or refusal; its part is added once its kind is known. */
  #open(): void {
    if (this.#message !== undefined) return;
    this.#message = this.#items.length;
    this.#items.push(messageItem(this.#id, '', 'in_progress'));
    this.#emit('response.output_item.added', { output_index: this.#message, item: messageItem(this.#id, '', 'in_progress') });
  }

  /** The message's one part, added as `kind`, with what was held before it. */
  #addPart(kind: PartKind): { outputIndex: number; text: string; kind: PartKind } {
    this.#open();
    this.#text = { outputIndex: this.#message!, text: '', kind };
    this.#emit('response.content_part.added', { item_id: `msg_${this.#id}`, output_index: this.#message!, content_index: 0, part: contentPart(kind, '') });
    const held = this.#heldRefusal;
    this.#heldRefusal = '';
    if (held !== '') this.#piece(held);
    return this.#text;
  }

  /** A piece of the message's part (output text unless the part is a refusal). */
  #piece(piece: string): void {
    const part = this.#text ?? this.#addPart('output_text');
    part.text += piece;
    const at = { item_id: `msg_${this.#id}`, output_index: part.outputIndex, content_index: 0 };
    if (part.kind === 'refusal') this.#emit('response.refusal.delta', { ...at, delta: piece });
    else this.#emit('response.output_text.delta', { ...at, delta: piece, logprobs: [] });
  }

  /** OpenRouter may send a citation again (the whole set with a later chunk): each is announced once. */
  protected override annotations(annotations: unknown): void {
    for (const annotation of textAnnotations(annotations)) {
      if (this.#annotations.some((seen) => JSON.stringify(seen) === JSON.stringify(annotation))) continue;
      const part = this.#text ?? this.#addPart('output_text');
      this.#emit('response.output_text.annotation.added', { item_id: `msg_${this.#id}`, output_index: part.outputIndex, content_index: 0, annotation_index: this.#annotations.length, annotation });
      this.#annotations.push(annotation);
      this.kept += JSON.stringify(annotation).length;
    }
  }

  protected toolCall(call: Json): void {
    const at = typeof call.index === 'number' ? call.index : 0;
    const open = this.#calls.get(at);
    if (open) {
      const args = obj(call.function)?.arguments;
      this.#arguments(open, typeof args === 'string' ? args : '');
      return;
    }
    const named = this.#unnamed.named(at, call);
    if (named) this.#arguments(this.#addCall(at, named.id, named.name), named.args);
  }

  /** A piece of a call's arguments; a custom tool's input is unwrapped from the whole arguments at the close. */
  #arguments(open: OpenCall, piece: string): void {
    if (piece === '') return;
    open.arguments += piece;
    if (open.custom) return;
    this.#emit('response.function_call_arguments.delta', { item_id: `fc_${this.#id}${open.index}`, output_index: open.outputIndex, delta: piece });
  }

  #addCall(at: number, id: string | undefined, name: unknown): OpenCall {
    const index = this.#calls.size;
    const called = typeof name === 'string' ? String(clientToolName(name, this.#scope.toolNames)) : '';
    const open: OpenCall = { id: callId(id, this.#id, index, this.#callIds), name: called, arguments: '', outputIndex: this.#items.length, index, custom: this.#customTools.has(called) };
    this.#calls.set(at, open);
    const item = open.custom ? customCallItem(this.#id, open.index, open, '', 'in_progress') : callItem(this.#id, open.index, open, 'in_progress');
    this.#items.push(item);
    this.#emit('response.output_item.added', { output_index: open.outputIndex, item });
    return open;
  }

  protected finishReason(reason: string): void {
    this.#finish = reason;
  }

  protected failed(error: Json): void {
    this.#emit('error', { code: responsesErrorCode(error), message: typeof error.message === 'string' ? error.message : 'The provider failed.', param: null });
  }

  protected close(): void {
    // A call still waiting for its name is a call all the same.
    for (const [at, waiting] of this.#unnamed.take()) this.#arguments(this.#addCall(at, waiting.id, ''), waiting.args);
    // A refusal no text followed: a refusal part.
    if (this.#heldRefusal !== '') this.#addPart('refusal');
    this.#closeReasoning();
    // Cut at the output limit: the last item was being written (a call's arguments may be half a JSON document).
    const cut = this.#finish === 'length' ? this.#items.length - 1 : -1;
    const status = (outputIndex: number) => (outputIndex === cut ? 'incomplete' : 'completed');
    if (this.#text) {
      const { outputIndex, text, kind } = this.#text;
      const at = { item_id: `msg_${this.#id}`, output_index: outputIndex, content_index: 0 };
      if (kind === 'refusal') this.#emit('response.refusal.done', { ...at, refusal: text });
      else this.#emit('response.output_text.done', { ...at, text, logprobs: [] });
      this.#emit('response.content_part.done', { ...at, part: contentPart(kind, text, this.#annotations) });
      this.#items[outputIndex] = messageItem(this.#id, text, status(outputIndex), kind, this.#annotations);
      this.#emit('response.output_item.done', { output_index: outputIndex, item: this.#items[outputIndex] });
    }
    for (const call of this.#calls.values()) {
      if (call.custom) {
        // The input, unwrapped from the whole arguments: one delta, as OpenAI streams a custom call's input in pieces.
        const input = customInput(call.arguments);
        const at = { item_id: `ctc_${this.#id}${call.index}`, output_index: call.outputIndex };
        this.#emit('response.custom_tool_call_input.delta', { ...at, delta: input });
        this.#emit('response.custom_tool_call_input.done', { ...at, input });
        this.#items[call.outputIndex] = customCallItem(this.#id, call.index, call, input, status(call.outputIndex));
        this.#emit('response.output_item.done', { output_index: call.outputIndex, item: this.#items[call.outputIndex] });
        continue;
      }
      // A call streamed without arguments gets its `{}` as a delta, so the deltas add up to what `done` says.
      if (call.arguments === '') this.#arguments(call, finishedArguments(''));
      this.#emit('response.function_call_arguments.done', { item_id: `fc_${this.#id}${call.index}`, output_index: call.outputIndex, arguments: call.arguments });
      this.#items[call.outputIndex] = callItem(this.#id, call.index, call, status(call.outputIndex));
      this.#emit('response.output_item.done', { output_index: call.outputIndex, item: this.#items[call.outputIndex] });
    }
    keep(this.#scope, this.#items);
    // Zeros when the provider reported none (SDK schemas require the object); the gateway estimates what it bills.
    const response = responseObject(this.#id, this.#model, this.#created, this.#items, this.#finish, this.#usage ?? responseUsage(undefined), this.#scope.request);
    this.#emit(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response });
  }
}

export const responsesViaChat: Translator = { request, answer, error: openaiError, stream: (scope) => new ChatToResponses(scope) };
