// OpenAI chat-completions requests (the OpenAI SDK, and most tools built on it) served by a model that speaks only
// Anthropic Messages (a custom provider declaring the Messages surface alone: an Anthropic-compatible endpoint or
// proxy). Messages, system prompts, images, function tools, calls and results, usage, stop reasons and errors are
// mapped both ways; streams are rebuilt as chat chunks. docs/decisions/translation.md.
import type { AttemptPlan } from '../../domain/routing.ts';
import type { CatalogModel } from '../../catalog/types.ts';
import { num, obj, parseJson } from '../formats/types.ts';
import { anthropicUsage } from '../formats/anthropic.ts';
import type { StreamTranslation, TranslatedRequest, Translator } from './types.ts';
import { effortFor, fittedOutputLimit } from './output-limit.ts';
import { isObjectSchema, objects, quotedPartType, toolInput, type Json } from './json.ts';
import { openaiError } from './openai-error.ts';
import { fileText, isTextMediaType, parseDataUrl } from './data-url.ts';
import { claudeImageType, imageSource } from './claude-images.ts';

const MAPPED = new Set(['model', 'models', 'messages', 'max_tokens', 'max_completion_tokens', 'stop', 'temperature', 'top_p', 'stream', 'stream_options', 'tools', 'tool_choice', 'parallel_tool_calls', 'user', 'response_format', 'reasoning_effort', 'thinking']);

/** What Messages requires and chat may leave out: the output limit, when neither the request nor the catalog has one. */
export const DEFAULT_MAX_TOKENS = 4096;


/** Chat content's text, a part at a time as the client sent it (a string is one part). */
function textParts(content: unknown): string[] {
  if (typeof content === 'string') return [content];
  return objects(content).filter((p) => typeof p.text === 'string').map((p) => p.text as string);
}

/**
 * What an assistant message said, a part at a time: its text, and what it refused — chat's `refusal` field, or a
 * `refusal` part — which the OpenAI SDK's answer carries when the model declined, and a client sends back as it came.
 * Left out, a turn that refused said nothing and was dropped from the conversation.
 */
function assistantTexts(m: Json): string[] {
  const parts = typeof m.content === 'string' ? [m.content] : objects(m.content).map((p) => (p.type === 'refusal' ? p.refusal : p.text)).filter((t): t is string => typeof t === 'string');
  return typeof m.refusal === 'string' ? [...parts, m.refusal] : parts;
}

/**
 * Text parts as Messages content: one part as a string, several as text blocks — joined, the end of one part and
 * the start of the next would run together ("…done.Next…").
 */
function textContent(content: unknown): string | Json[] {
  const parts = textParts(content);
  if (parts.length <= 1) return parts[0] ?? '';
  const kept = parts.filter(hasText);
  return kept.length <= 1 ? (kept[0] ?? '') : kept.map((text) => ({ type: 'text', text }));
}

/**
 * A file Messages can read: a PDF, or text (`text/*`, JSON, XML, YAML, scripts…: isTextMediaType) in UTF-8 or the
 * charset its data URL names (`text`, its text); undefined for anything else, or not a data URL.
 */
export function readableFile(fileData: unknown): { mediaType: string; base64: string; text?: string } | undefined {
  const file = typeof fileData === 'string' ? parseDataUrl(fileData) : undefined;
  if (!file) return undefined;
  if (file.mediaType === 'application/pdf') return { mediaType: file.mediaType, base64: file.base64 };
  const text = fileText(file);
  return text === undefined ? undefined : { mediaType: file.mediaType, base64: file.base64, text };
}

/**
 * Why a request with files cannot go to Messages, if it cannot: a file Messages cannot read (a Word document, a
 * spreadsheet, one stored at OpenAI) would be left out, and the model would answer without it. `files` are the
 * request's file parts, as `{file_data}` (a URL-given file is carried as a URL document, so it passes). A file given
 * by its `file_id` alone is named as such: the id is one the client's provider issued (OpenAI's Files API), which no
 * other provider can read — the generic wording had the client look for a fault in a file it never sent.
 */
export function unreadableFileReason(files: readonly Json[]): string | undefined {
  const unreadable = files.find((f) => typeof f.file_url !== 'string' && readableFile(f.file_data) === undefined);
  if (!unreadable) return undefined;
  if (typeof unreadable.file_id === 'string' && typeof unreadable.file_data !== 'string') {
    return `it sends a file by "file_id" ("${unreadable.file_id.slice(0, 64)}"): file ids are issued by the client's provider (OpenAI's Files API) and name files stored there, which Claude cannot read; send the file's data ("file_data") instead`;
  }
  return 'it sends a file Anthropic Messages cannot read (only PDFs, and text files in UTF-8 or in the charset their data URL names, given as data or by URL; text is text/*, JSON, XML, YAML, CSV or source code); send its text instead';
}

/** Audio (chat's and Responses' `input_audio` parts): Claude takes none, so it has no block in Messages. */
export const AUDIO_REASON = 'it sends audio (an "input_audio" part), which Anthropic Messages cannot carry (Claude takes no audio); send its transcript as text instead';

/** The user (and tool) content parts `block` places: any other would be left out. */
const PLACED_PARTS = new Set(['text', 'image_url', 'file']);

/**
 * Why a chat request's content cannot go to Messages, if it cannot: a user or tool part Messages has no block for
 * (audio above all) would be left out, and the model would answer without it, the client never told; so would any
 * part of a system message but text, as Messages' system prompt is text alone. Files are `unreadableFileReason`'s.
 */
export function unplacedPartReason(messages: unknown): string | undefined {
  const parts = objects(messages).flatMap((m) => objects(m.content).map((p) => ({ role: m.role, type: p.type, text: p.text })));
  if (parts.some((p) => p.type === 'input_audio')) return AUDIO_REASON;
  const unplaced = parts.find((p) => (p.role === 'user' || p.role === 'tool') && !PLACED_PARTS.has(String(p.type)));
  if (unplaced) return `it sends a ${unplaced.role === 'tool' ? 'tool message' : 'user'} content part of type ${quotedPartType(unplaced.type)}, which Anthropic Messages cannot carry; send it as text instead`;
  const system = parts.find((p) => (p.role === 'system' || p.role === 'developer') && typeof p.text !== 'string');
  return system ? `it sends a ${String(system.role)} message part of type ${quotedPartType(system.type)}, which Anthropic Messages cannot carry (its system prompt is text alone); send it in a user message instead` : undefined;
}

/**
 * Why a chat content part of a known type cannot be read as its type, naming the member at fault, if one cannot
 * (`block` left such a part out, and Claude answered without it). OpenAI refuses the same request sent as it is, so a
 * translated one is refused too (index.ts: the client's own 400, not "cannot be translated").
 */
export function malformedChatPartReason(messages: unknown): string | undefined {
  if (!Array.isArray(messages)) return undefined;
  for (const [i, message] of messages.entries()) {
    const content = obj(message)?.content;
    if (!Array.isArray(content)) continue;
    for (const [j, value] of content.entries()) {
      const part = obj(value);
      const at = `messages[${i}].content[${j}]`;
      if ((part?.type === 'text' && typeof part.text !== 'string') || (part?.type === 'refusal' && typeof part.refusal !== 'string')) return `"${at}.${part.type}" must be a string`;
      if (part?.type === 'image_url' && typeof part.image_url !== 'string' && typeof obj(part.image_url)?.url !== 'string') return `"${at}.image_url.url" must be a string (the image's URL or data URL)`;
      const file = part?.type === 'file' ? obj(part.file) : undefined;
      if (part?.type === 'file' && !['file_data', 'file_id', 'file_url'].some((name) => typeof file?.[name] === 'string')) return `"${at}.file" needs "file_data" or "file_id", a string`;
    }
  }
  return undefined;
}

/** A chat content part as a Messages block: text, an image (a data URL or a URL), a PDF or text file. */
function block(part: Json): Json | undefined {
  if (part.type === 'text' && typeof part.text === 'string') return { type: 'text', text: part.text };
  const url = typeof part.image_url === 'string' ? part.image_url : obj(part.image_url)?.url;
  if (part.type === 'image_url' && typeof url === 'string') {
    const data = parseDataUrl(url);
    if (!data) return { type: 'image', source: { type: 'url', url } };
    // SVG is its source to Claude, which takes no such image (unsendableImageReason refused any other type before).
    const source = imageSource(data);
    return source !== undefined ? { type: 'document', source: { type: 'text', media_type: 'text/plain', data: source } } : { type: 'image', source: { type: 'base64', media_type: claudeImageType(data), data: data.base64 } };
  }
  // A file by URL reaches here only from a Responses request (composed.ts): Messages takes it as a URL document.
  const fileUrl = obj(part.file)?.file_url;
  if (part.type === 'file' && typeof fileUrl === 'string') return { type: 'document', source: { type: 'url', url: fileUrl } };
  const file = part.type === 'file' ? readableFile(obj(part.file)?.file_data) : undefined;
  if (!file) return undefined;
  if (file.mediaType === 'application/pdf') return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: file.base64 } };
  // Text files (text/plain, text/csv, application/json…) as Messages' text documents, which take the text itself.
  return { type: 'document', source: { type: 'text', media_type: 'text/plain', data: file.text } };
}

/** Text with something in it: Messages refuses empty and whitespace-only text, which chat histories often carry. */
function hasText(text: unknown): text is string {
  return typeof text === 'string' && text.trim() !== '';
}

/** Parts as Messages blocks, empty text left out (Messages refuses it). */
function blocksOf(parts: unknown): Json[] {
  return objects(parts).map(block).filter((b): b is Json => b !== undefined && (b.type !== 'text' || hasText(b.text)));
}

/** A user turn's content, or undefined when nothing in it has a place in Messages. */
function content(value: unknown): unknown {
  if (typeof value === 'string') return hasText(value) ? value : undefined;
  const blocks = blocksOf(value);
  return blocks.length > 0 ? blocks : undefined;
}


/**
 * A tool-call id as Messages takes it (letters, digits, `_` and `-`): a history begun on another model may carry
 * others (Kimi's `functions.weather:0`). The same rewrite on the call and on its result keeps them paired.
 */
function toolId(id: unknown): string {
  return String(id ?? '').replace(/[^a-zA-Z0-9_-]/g, '_') || 'call';
}

/**
 * The `format` of Claude's entries in chat's `reasoning_details` (OpenRouter's name for Claude's signed thinking):
 * only entries of this format go back to Claude as thinking, as Claude refuses a signature it did not make.
 */
export const CLAUDE_REASONING_FORMAT = 'anthropic-claude-v1';

/**
 * Claude's thinking and redacted thinking blocks as chat's `reasoning_details` (OpenRouter's field, which OpenRouter
 * and Vercel AI SDK clients send back, and which an OpenAI SDK client sends back when it keeps the assistant message
 * as it came): signed thinking as `reasoning.text`, redacted thinking as `reasoning.encrypted` — its data is opaque,
 * never shown as text.
 */
function reasoningDetails(blocks: readonly Json[]): Json[] {
  const details: Json[] = [];
  for (const b of blocks) {
    // Unsigned thinking (a compatible server's) could not go back: Claude refuses it.
    if (b.type === 'thinking' && typeof b.thinking === 'string' && typeof b.signature === 'string' && b.signature !== '') details.push({ type: 'reasoning.text', text: b.thinking, signature: b.signature, format: CLAUDE_REASONING_FORMAT, index: details.length });
    else if (b.type === 'redacted_thinking' && typeof b.data === 'string') details.push({ type: 'reasoning.encrypted', data: b.data, format: CLAUDE_REASONING_FORMAT, index: details.length });
  }
  return details;
}

/** An assistant message's `reasoning_details` back as Claude's blocks: signed thinking and redacted thinking, Claude's own only. */
function thinkingBlocks(details: unknown): Json[] {
  const blocks: Json[] = [];
  for (const d of objects(details)) {
    if (d.format !== CLAUDE_REASONING_FORMAT) continue;
    if (d.type === 'reasoning.text' && typeof d.text === 'string' && typeof d.signature === 'string' && d.signature !== '') blocks.push({ type: 'thinking', thinking: d.text, signature: d.signature });
    else if (d.type === 'reasoning.encrypted' && typeof d.data === 'string') blocks.push({ type: 'redacted_thinking', data: d.data });
  }
  return blocks;
}

/** Chat messages → Messages' `system` and turns; a run of tool results becomes one user turn. */
function turns(messages: unknown): { system: string; turns: Json[] } {
  const system: string[] = [];
  const out: Json[] = [];
  for (const m of objects(messages)) {
    // Every system message, and every text part of one, is a paragraph of Messages' one system prompt.
    if (m.role === 'system' || m.role === 'developer') system.push(...textParts(m.content));
    else if (m.role === 'assistant') {
      const blocks: Json[] = [];
      for (const text of assistantTexts(m)) if (hasText(text)) blocks.push({ type: 'text', text });
      for (const call of objects(m.tool_calls)) {
        const fn = obj(call.function);
        blocks.push({ type: 'tool_use', id: toolId(call.id), name: fn?.name, input: toolInput(fn?.arguments) });
      }
      // Claude's thinking goes first in its turn, as Claude wrote it; a turn of thinking alone says nothing.
      if (blocks.length > 0) out.push({ role: 'assistant', content: [...thinkingBlocks(m.reasoning_details), ...blocks] });
    } else if (m.role === 'tool') {
      // Text alone as before; an image or a file a tool returned goes in the result as its block (Messages' tool
      // results take them), not left out.
      const media = objects(m.content).some((p) => p.type !== 'text');
      const result = { type: 'tool_result', tool_use_id: toolId(m.tool_call_id), content: media ? blocksOf(m.content) : textContent(m.content) };
      const last = out.at(-1);
      if (last?.role === 'user' && Array.isArray(last.content) && (last.content as Json[]).every((b) => b.type === 'tool_result')) (last.content as Json[]).push(result);
      else out.push({ role: 'user', content: [result] });
    } else {
      const user = content(m.content);
      if (user !== undefined) out.push({ role: 'user', content: user });
    }
  }
  // Messages refuses a final assistant turn ending in whitespace (a prefill the model continues).
  const last = out.at(-1);
  const lastText = last?.role === 'assistant' ? (last.content as Json[]).at(-1) : undefined;
  if (lastText?.type === 'text') lastText.text = String(lastText.text).trimEnd();
  const prompt = system.filter(hasText).join('\n\n');
  // A request of system text alone (chat allows it) asks it of the model as the user's turn.
  if (out.length === 0 && prompt !== '') return { system: '', turns: [{ role: 'user', content: prompt }] };
  return { system: prompt, turns: out };
}

/**
 * Structured output (`response_format`) on a model without Claude's JSON outputs (and `json_object`, which has no
 * schema) is asked as a single forced tool whose input is the schema, and the call's input comes back as the message's
 * content — the JSON the client's parser expects. The tool's name is the gateway's; the client offered no tools of
 * its own (else `response_format` is removed). Models with JSON outputs get the schema in `output_config.format`,
 * tools or not, and answer the JSON as their text.
 */
export const STRUCTURED_OUTPUT_TOOL = 'structured_output';

/** JSON mode's request in words, for a model that refuses the forced tool. */
const JSON_MODE_INSTRUCTION = 'Answer with one JSON object and nothing else.';

function structuredOutputTool(format: unknown): Json | undefined {
  const f = obj(format);
  if (f?.type === 'json_object') return { name: STRUCTURED_OUTPUT_TOOL, description: 'Answer with a JSON object.', input_schema: { type: 'object' } };
  const schema = obj(f?.json_schema);
  if (f?.type !== 'json_schema' || !schema) return undefined;
  return { name: STRUCTURED_OUTPUT_TOOL, description: typeof schema.description === 'string' ? schema.description : 'Answer in this shape.', input_schema: schema.schema ?? { type: 'object' } };
}

/**
 * A json_schema `response_format` as Claude's `output_config.format`. Claude's JSON outputs take every object closed
 * and refuse numeric, length and count constraints (400), which OpenAI's schemas may carry: objects are closed, and
 * the constraints move into the description, as Anthropic's own SDKs do before sending a schema.
 */
function jsonOutputConfig(format: unknown): Json | undefined {
  const f = obj(format);
  const schema = obj(obj(f?.json_schema)?.schema);
  if (f?.type !== 'json_schema' || !schema || !expressibleForClaude(schema)) return undefined;
  return { format: { type: 'json_schema', schema: claudeSchema(schema) } };
}

/**
 * What closing objects cannot carry: a map (`additionalProperties` a schema, or true), whose keys Claude could then
 * never write, and a recursive schema, which Claude's JSON outputs refuse. Such a schema goes the forced-tool way.
 */
function expressibleForClaude(schema: Json): boolean {
  const defs = new Map<string, unknown>();
  for (const [base, group] of [['#/$defs/', schema.$defs], ['#/definitions/', schema.definitions]] as const) {
    for (const [name, part] of Object.entries(obj(group) ?? {})) defs.set(`${base}${name}`, part);
  }
  // The definitions each node refers to; a reference of any other form (`#`, `#/properties/…`) may loop back into
  // the schema, so it is not carried at all.
  let foreign = false;
  let map = false;
  // One walk of a schema node: the definitions it refers to, whether it refers elsewhere, whether it holds a map.
  // The schema's own `$defs`/`definitions` are walked as definitions, not as part of the root (a property may be
  // named `$defs` deeper down: that one is walked like any other).
  const walk = (node: unknown, into: Set<string>, root: boolean): Set<string> => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n, into, false);
      return into;
    }
    const n = obj(node);
    if (!n) return into;
    if (typeof n.$ref === 'string') {
      if (defs.has(n.$ref)) into.add(n.$ref);
      else foreign = true;
    }
    if (n.additionalProperties === true || obj(n.additionalProperties) !== undefined) map = true;
    for (const [key, value] of Object.entries(n)) if (!(root && (key === '$defs' || key === 'definitions'))) walk(value, into, false);
    return into;
  };
  const edges = new Map([...defs].map(([ref, part]) => [ref, walk(part, new Set(), false)]));
  walk(schema, new Set(), true);
  if (foreign || map) return false;
  // Recursion among the definitions, direct (A → A) or through others (A → B → A): a definition is settled once
  // all it refers to are; any left unsettled are on a cycle (Kahn's order, no recursion however long the chain).
  const waiting = new Map([...edges].map(([ref, to]) => [ref, to.size]));
  const referrers = new Map<string, string[]>();
  for (const [ref, to] of edges) {
    for (const target of to) {
      const list = referrers.get(target);
      if (list) list.push(ref);
      else referrers.set(target, [ref]);
    }
  }
  const ready = [...waiting].filter(([, n]) => n === 0).map(([ref]) => ref);
  let settled = 0;
  while (ready.length > 0) {
    const ref = ready.pop()!;
    settled++;
    for (const referrer of referrers.get(ref) ?? []) {
      const left = waiting.get(referrer)! - 1;
      waiting.set(referrer, left);
      if (left === 0) ready.push(referrer);
    }
  }
  return settled === defs.size;
}

const UNSUPPORTED_CONSTRAINTS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties',
  'not', 'prefixItems', 'contains', 'minContains', 'maxContains', 'if', 'then', 'else', 'patternProperties', 'propertyNames', 'dependentSchemas', 'dependentRequired', 'unevaluatedProperties', 'unevaluatedItems'];

function claudeSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(claudeSchema);
  const s = obj(schema);
  if (!s) return schema;
  const out: Json = {};
  const moved: string[] = [];
  for (const [key, value] of Object.entries(s)) {
    // minItems 0 and 1 are the counts Claude takes.
    if (UNSUPPORTED_CONSTRAINTS.includes(key) || (key === 'minItems' && typeof value === 'number' && value > 1)) moved.push(`${key}: ${JSON.stringify(value)}`);
    else if (key === 'properties' || key === '$defs' || key === 'definitions') out[key] = Object.fromEntries(Object.entries(obj(value) ?? {}).map(([name, part]) => [name, claudeSchema(part)]));
    // oneOf as anyOf, as Anthropic's SDKs send it (Pydantic's discriminated unions): the branches are exclusive anyway.
    else if (key === 'oneOf') out.anyOf = claudeSchema(value);
    else if (key === 'items' || key === 'anyOf' || key === 'allOf') out[key] = claudeSchema(value);
    else out[key] = value;
  }
  if (isObjectSchema(out)) out.additionalProperties = false;
  if (moved.length > 0) out.description = `${typeof out.description === 'string' ? `${out.description}\n\n` : ''}{${moved.join(', ')}}`;
  return out;
}

/**
 * The names `allowed_tools` permits (OpenAI's way to narrow the tools a turn may call while offering them all, for the
 * prompt cache); undefined for any other choice. Messages has no such choice: only those tools are offered.
 */
function allowedToolNames(choice: unknown): Set<string> | undefined {
  const c = obj(choice);
  if (c?.type !== 'allowed_tools') return undefined;
  return new Set(objects(obj(c.allowed_tools)?.tools).map((t) => obj(t.function)?.name).filter((name): name is string => typeof name === 'string'));
}

function toolChoice(choice: unknown, parallel: unknown): Json | undefined {
  const noParallel = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === 'required') return { type: 'any', ...noParallel };
  const allowed = obj(choice)?.type === 'allowed_tools' ? obj(obj(choice)?.allowed_tools) : undefined;
  if (allowed) return { type: allowed.mode === 'required' ? 'any' : 'auto', ...noParallel };
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
  // A final assistant turn is a finished one to chat (the model answers after it) and a prefill to Messages (Claude
  // continues it; the 4.6 models on refuse it). It still goes — it is the conversation — and the header says so.
  if (messages.at(-1)?.role === 'assistant') removed.push('prefill');
  const out: Json = { model: body.model, messages };
  if (system !== '') out.system = system;
  const limit = body.max_completion_tokens ?? body.max_tokens;
  out.max_tokens = typeof limit === 'number' ? fittedOutputLimit(limit, plan) : plan.candidate.catalogModel?.maxOutputTokens || DEFAULT_MAX_TOKENS;
  // Messages refuses a stop sequence of whitespace alone ("each stop sequence must contain non-whitespace"), which
  // chat takes (`"\n"`, a common one): those are left out, and `stop` is named when one was.
  const stops = typeof body.stop === 'string' ? [body.stop] : Array.isArray(body.stop) ? body.stop : [];
  const usable = stops.filter((stop): stop is string => typeof stop === 'string' && stop.trim() !== '');
  if (usable.length > 0) out.stop_sequences = usable;
  if (usable.length < stops.length) removed.push('stop');
  // Messages takes a temperature up to 1 (chat: 2).
  if (typeof body.temperature === 'number') out.temperature = Math.min(body.temperature, 1);
  if (body.top_p !== undefined && body.top_p !== null) out.top_p = body.top_p;
  // null is chat's "not given"; Messages takes that by leaving the field out.
  if (body.stream !== undefined && body.stream !== null) out.stream = body.stream;
  if (typeof body.user === 'string') out.metadata = { user_id: body.user };
  const functionTools = objects(body.tools).filter((t) => t.type === 'function');
  if (functionTools.length < objects(body.tools).length) removed.push('tools');
  const allowed = allowedToolNames(body.tool_choice);
  const functions = allowed ? functionTools.filter((t) => allowed.has(String(obj(t.function)?.name))) : functionTools;
  const model = plan.candidate.catalogModel;
  const outputConfig = model?.jsonOutputs ? jsonOutputConfig(body.response_format) : undefined;
  const structured = functions.length === 0 && !outputConfig ? structuredOutputTool(body.response_format) : undefined;
  if (outputConfig) out.output_config = outputConfig;
  else if (structured && model?.refusesForcedTool) {
    // JSON mode (no schema), or a schema JSON outputs cannot carry, on a model that refuses a forced tool: asked in
    // words, as OpenAI's JSON mode itself requires the prompt to ask for JSON; the guarantee is the model's.
    const schema = obj(obj(body.response_format)?.json_schema)?.schema;
    const ask = schema === undefined ? JSON_MODE_INSTRUCTION : `Answer with one JSON object matching this JSON schema, and nothing else: ${JSON.stringify(schema)}`;
    out.system = `${typeof out.system === 'string' && out.system !== '' ? `${out.system}\n\n` : ''}${ask}`;
  } else if (structured) {
    out.tools = [structured];
    out.tool_choice = { type: 'tool', name: STRUCTURED_OUTPUT_TOOL };
  } else if (body.response_format !== undefined && obj(body.response_format)?.type !== 'text') removed.push('response_format');
  if (functions.length > 0) {
    out.tools = functions.map((t) => {
      const fn = obj(t.function) ?? {};
      const tool: Json = { name: fn.name, ...(fn.description !== undefined ? { description: fn.description } : {}), input_schema: fn.parameters ?? { type: 'object' } };
      // Strict tool use is Claude's too on models with JSON outputs (its schema held to the same rules as theirs). A
      // schema those rules cannot carry (a map, recursion) goes as a plain tool: closing it would hide the map's keys.
      const params = obj(tool.input_schema);
      if (fn.strict === true && model?.jsonOutputs && params !== undefined && expressibleForClaude(params)) {
        tool.strict = true;
        tool.input_schema = claudeSchema(tool.input_schema);
      }
      return tool;
    });
    const choice = toolChoice(body.tool_choice, body.parallel_tool_calls);
    if (choice) out.tool_choice = choice;
  } else {
    if (body.tool_choice !== undefined) removed.push('tool_choice');
    if (body.parallel_tool_calls !== undefined) removed.push('parallel_tool_calls');
  }
  if (out.tools === undefined) {
    const called = historyTools(messages);
    if (called.length > 0) {
      out.tools = called;
      out.tool_choice = { type: 'none' };
    }
  }
  // Anthropic's own spelling (its OpenAI-compatibility layer's `thinking`, sent through `extra_body`) says more than
  // an effort: it is the one taken when both come.
  const thinking = clientThinking(body.thinking);
  if (thinking) {
    if (!addThinking(thinking.effort, out, model, removed, thinking.budget)) removed.push('thinking');
    if (body.reasoning_effort !== undefined && body.reasoning_effort !== null) removed.push('reasoning_effort');
  } else {
    if (body.thinking !== undefined && body.thinking !== null) removed.push('thinking');
    if (body.reasoning_effort !== undefined && body.reasoning_effort !== null && !addThinking(body.reasoning_effort, out, model, removed)) removed.push('reasoning_effort');
  }
  return { body: out, removed, clientFields: thinking ? { ...CLIENT_FIELDS, thinking: 'thinking' } : CLIENT_FIELDS };
}

/**
 * A chat client's `thinking` (`{type: "enabled", budget_tokens}`, `{type: "adaptive"}`, `{type: "disabled"}`) as the
 * effort addThinking takes (effortFor: the budget read as Messages → chat reads it), and the budget asked; undefined
 * for anything else.
 */
function clientThinking(thinking: unknown): { effort: string; budget?: number } | undefined {
  const t = obj(thinking);
  if (t?.type === 'disabled') return { effort: 'none' };
  if (t?.type === 'adaptive') return { effort: effortFor(t) };
  const budget = num(t?.budget_tokens);
  return t?.type === 'enabled' && budget > 0 ? { effort: effortFor(t), budget } : undefined;
}

/** Chat's reasoning efforts as adaptive thinking's `output_config.effort`: Claude has no `minimal`, and `xhigh` is its `high`. */
const CLAUDE_EFFORTS: Readonly<Record<string, string>> = { minimal: 'low', low: 'low', medium: 'medium', high: 'high', xhigh: 'high' };

/** The same as manual thinking's budget, sized so Messages → chat reads each back as the same effort (messages-via-chat.ts). */
const THINKING_BUDGETS: Readonly<Record<string, number>> = { minimal: 1024, low: 2048, medium: 8192, high: 16_384, xhigh: 32_768 };

/** The least thinking budget Claude takes. */
const MIN_THINKING_BUDGET = 1024;

/**
 * `reasoning_effort` as Claude's thinking, written into `out`: adaptive thinking at that effort where the model has
 * it, else a budget — `asked` (a client's `thinking`), else the effort's — below the output limit, as Claude
 * requires. False when thinking cannot go with the rest of the request, which then goes without it (the caller names the field removed): manual thinking with a forced tool
 * (Claude refuses it: the client's `required`, the structured-output tool), a limit too small for the least budget,
 * a turn in progress whose tool calls came without their thinking, or a prefill (unthoughtFinalTurn). `none` is
 * Claude's default: nothing to send.
 */
function addThinking(effort: unknown, out: Json, model: CatalogModel | undefined, removed: string[], asked?: number): boolean {
  if (effort === 'none') return true;
  if (typeof effort !== 'string' || THINKING_BUDGETS[effort] === undefined || unthoughtFinalTurn(objects(out.messages))) return false;
  if (model?.adaptiveThinking) {
    out.thinking = { type: 'adaptive' };
    out.output_config = { ...obj(out.output_config), effort: CLAUDE_EFFORTS[effort] };
  } else {
    const forced = obj(out.tool_choice)?.type;
    const budget = Math.min(asked ?? THINKING_BUDGETS[effort], num(out.max_tokens) - 1);
    if (forced === 'any' || forced === 'tool' || budget < MIN_THINKING_BUDGET) return false;
    out.thinking = { type: 'enabled', budget_tokens: budget };
  }
  // Thinking takes no sampling changes (Claude refuses them): temperature 1 only, top_p from 0.95.
  if (out.temperature !== undefined && out.temperature !== 1) {
    delete out.temperature;
    removed.push('temperature');
  }
  if (typeof out.top_p === 'number' && out.top_p < 0.95) {
    delete out.top_p;
    removed.push('top_p');
  }
  return true;
}

/**
 * A final assistant turn that does not open with Claude's thinking, which Claude refuses with thinking on (400: "a
 * final `assistant` message must start with a thinking block"): a request continuing a turn of tool use (it ends in
 * tool results) whose calls came without their thinking — the client did not send back the `reasoning_details` the
 * answer carried (a history rebuilt from a stream by hand) — or a prefill (the conversation ends with the assistant's
 * text, which Claude continues). That request then goes without thinking, as Anthropic's own advice has it, rather
 * than fail.
 */
function unthoughtFinalTurn(messages: readonly Json[]): boolean {
  const last = messages.at(-1);
  const prefill = last?.role === 'assistant';
  const turn = prefill ? last : last?.role === 'user' && objects(last.content).some((b) => b.type === 'tool_result') ? messages.at(-2) : undefined;
  const blocks = objects(turn?.content);
  const first = blocks[0]?.type;
  if (first === 'thinking' || first === 'redacted_thinking') return false;
  return prefill || blocks.some((b) => b.type === 'tool_use');
}

/**
 * The tools earlier turns called, for a request that offers none: Anthropic refuses `tool_use` and `tool_result`
 * blocks in a request without `tools` ("Requests which include `tool_use` or `tool_result` blocks must define
 * tools"), where chat takes such a history (a last turn asking for a summary, its tools left out). Each is declared
 * with a schema that takes any input, and `tool_choice` `none` keeps the model from calling it: as on OpenAI, the
 * model reads the calls and their results, and answers in text.
 */
function historyTools(messages: readonly Json[]): Json[] {
  const names = new Set<string>();
  for (const m of messages) {
    if (m.role !== 'assistant') continue;
    for (const b of objects(m.content)) if (b.type === 'tool_use' && typeof b.name === 'string' && b.name !== '') names.add(b.name);
  }
  return [...names].map((name) => ({ name, description: 'Called earlier in this conversation; not available now.', input_schema: { type: 'object' } }));
}

/** Messages fields written from a chat field of another name: what the model refuses of them is named as the client sent it. */
const CLIENT_FIELDS: Readonly<Record<string, string>> = { stop_sequences: 'stop', metadata: 'user', output_config: 'response_format', thinking: 'reasoning_effort' };

/**
 * Why a chat request cannot be translated, if it cannot: the deprecated function-calling fields (`functions`,
 * `function_call`, `function` messages) have answers of their own shape (`message.function_call`) that Messages
 * tool calls cannot be mapped back into faithfully.
 */
export function legacyFunctionsReason(body: Json): string | undefined {
  const legacy = body.functions !== undefined || body.function_call !== undefined
    || objects(body.messages).some((m) => m.role === 'function' || m.function_call !== undefined);
  return legacy ? 'it uses the deprecated function-calling fields ("functions", "function_call"); use "tools" instead' : undefined;
}

const FINISH_REASONS: Readonly<Record<string, string>> = { end_turn: 'stop', stop_sequence: 'stop', pause_turn: 'stop', max_tokens: 'length', model_context_window_exceeded: 'length', tool_use: 'tool_calls', refusal: 'content_filter' };

function finishReason(stop: unknown): string {
  return typeof stop === 'string' ? FINISH_REASONS[stop] ?? 'stop' : 'stop';
}

/**
 * Messages usage → chat usage, whose `prompt_tokens` counts the cached input too. Read as the meter reads it
 * (anthropicUsage), so the client is told what it is billed: an answer with `usage.iterations` (compaction, the
 * advisor tool) bills their sums, which its top-level counts leave out. Thinking is inside output_tokens on both sides.
 */
function chatUsage(usage: unknown): Json {
  const u = anthropicUsage(usage);
  const prompt = u?.inputTokens ?? 0;
  const completion = u?.outputTokens ?? 0;
  return {
    prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: u?.cacheReadTokens ?? 0 }, completion_tokens_details: { reasoning_tokens: u?.reasoningTokens ?? 0 },
  };
}

function chatId(id: unknown): string {
  return `chatcmpl-${typeof id === 'string' && id !== '' ? id.replace(/^msg_/, '') : 'translated'}`;
}

function answer(upstream: unknown): unknown {
  const message = obj(upstream) ?? {};
  let text = '';
  const calls: Json[] = [];
  let structured = false;
  for (const b of objects(message.content)) {
    if (b.type === 'text' && typeof b.text === 'string') text += b.text;
    else if (b.type === 'tool_use' && b.name === STRUCTURED_OUTPUT_TOOL) {
      text += JSON.stringify(b.input ?? {});
      structured = true;
    } else if (b.type === 'tool_use') calls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } });
  }
  const reply: Json = { role: 'assistant', content: text === '' && calls.length > 0 ? null : text, refusal: null };
  // Claude's thinking as `reasoning_content` (DeepSeek's field, which vLLM and most OpenAI-compatible servers use too),
  // and signed for the next turn in `reasoning_details`; redacted thinking only there.
  const thought = objects(message.content).filter((b) => b.type === 'thinking' && typeof b.thinking === 'string').map((b) => b.thinking as string).join('');
  if (thought !== '') reply.reasoning_content = thought;
  const details = reasoningDetails(objects(message.content));
  if (details.length > 0) reply.reasoning_details = details;
  if (calls.length > 0) reply.tool_calls = calls;
  const finish = structured && message.stop_reason === 'tool_use' ? 'stop' : finishReason(message.stop_reason);
  return {
    id: chatId(message.id), object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: message.model,
    choices: [{ index: 0, message: reply, logprobs: null, finish_reason: finish }],
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
  /** The block of the structured-output call: its input streams as the message's content. */
  #structured: number | undefined;
  /** Tool blocks (by Messages index) whose input has had some text: one with none is a call without arguments. */
  #argued = new Set<number>();
  /**
   * Thinking and redacted thinking blocks by Messages index, as they end up (text, signature, data): written whole as
   * `reasoning_details` in the finish chunk — one delta, which the OpenAI SDK's stream helper keeps as it is on the
   * message (it assigns a field it does not know, piece over piece).
   */
  #thinking = new Map<number, Json>();
  /** Characters of thinking kept in `#thinking` (StreamTranslation.held). */
  #held = 0;
  /**
   * The role went out (in the first choice chunk, as OpenAI sends it): the OpenAI SDK's stream helper refuses an answer
   * without one ("missing role"), and a server may open its stream without message_start.
   */
  #roleSent = false;

  constructor(includeUsage: boolean) {
    this.#includeUsage = includeUsage;
  }

  get held(): number {
    return this.#held;
  }

  #chunk(delta: Json, finish: string | null = null, usage?: Json): void {
    if (!usage && !this.#roleSent) {
      delta = { role: 'assistant', ...delta };
      this.#roleSent = true;
    }
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
      // Some compatible servers open a block with its whole text or input rather than streaming it.
      const given = b?.type === 'tool_use' && obj(b.input) && Object.keys(b.input as Json).length > 0 ? JSON.stringify(b.input) : '';
      if (given !== '' && typeof e.index === 'number') this.#argued.add(e.index);
      if (b?.type === 'text' && hasText(b.text)) this.#chunk({ content: b.text });
      else if ((b?.type === 'thinking' || b?.type === 'redacted_thinking') && typeof e.index === 'number') {
        this.#thinking.set(e.index, { ...b });
        this.#held += String(b.thinking ?? b.data ?? '').length;
        if (b.type === 'thinking' && typeof b.thinking === 'string' && b.thinking !== '') this.#chunk({ reasoning_content: b.thinking });
      } else if (b?.type === 'tool_use' && b.name === STRUCTURED_OUTPUT_TOOL && typeof e.index === 'number') {
        this.#structured = e.index;
        if (given !== '') this.#chunk({ content: given });
      } else if (b?.type === 'tool_use' && typeof e.index === 'number') {
        const at = this.#calls.size;
        this.#calls.set(e.index, at);
        this.#chunk({ tool_calls: [{ index: at, id: b.id, type: 'function', function: { name: b.name, arguments: given } }] });
      }
    } else if (type === 'content_block_delta') {
      const delta = obj(e.delta);
      if (delta?.type === 'input_json_delta' && typeof delta.partial_json === 'string' && delta.partial_json !== '' && typeof e.index === 'number') this.#argued.add(e.index);
      const thought = typeof e.index === 'number' ? this.#thinking.get(e.index) : undefined;
      if (delta?.type === 'text_delta' && typeof delta.text === 'string') this.#chunk({ content: delta.text });
      else if (delta?.type === 'thinking_delta' && typeof delta.thinking === 'string' && thought) {
        this.#held += delta.thinking.length;
        thought.thinking = String(thought.thinking ?? '') + delta.thinking;
        this.#chunk({ reasoning_content: delta.thinking });
      } else if (delta?.type === 'signature_delta' && typeof delta.signature === 'string' && thought) thought.signature = delta.signature;
      else if (delta?.type === 'input_json_delta' && typeof delta.partial_json === 'string' && e.index === this.#structured) this.#chunk({ content: delta.partial_json });
      else if (delta?.type === 'input_json_delta' && typeof delta.partial_json === 'string' && typeof e.index === 'number') {
        const at = this.#calls.get(e.index);
        if (at !== undefined) this.#chunk({ tool_calls: [{ index: at, function: { arguments: delta.partial_json } }] });
      }
    } else if (type === 'content_block_stop' && typeof e.index === 'number' && !this.#argued.has(e.index)) {
      // A call of a tool that takes no arguments streams its input as nothing (one empty delta): its arguments are
      // `{}`, as the buffered answer has them, else SDKs that parse them fail on "".
      const at = this.#calls.get(e.index);
      if (at !== undefined) this.#chunk({ tool_calls: [{ index: at, function: { arguments: '{}' } }] });
      else if (e.index === this.#structured) this.#chunk({ content: '{}' });
    } else if (type === 'message_delta') {
      const stop = obj(e.delta)?.stop_reason;
      this.#finish = this.#structured !== undefined && stop === 'tool_use' ? 'stop' : finishReason(stop);
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
    const details = reasoningDetails([...this.#thinking].sort(([a], [b]) => a - b).map(([, block]) => block));
    this.#chunk(details.length > 0 ? { reasoning_details: details } : {}, this.#finish);
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
