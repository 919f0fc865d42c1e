// Input-token estimates (gateway.md §10: the gateway estimates with a tiktoken-compatible tokenizer;
// provider-reported counts win when present). o200k_base through gpt-tokenizer: loading its ranks takes
// ~0.4 s and ~80 MB, so the gateway avoids needing it — admission decides on a free byte bound whenever it
// can (token-bounds.ts), providers' own usage reports make estimates rare, and counts run on a worker
// thread (token-counter.ts). gpt-tokenizer over js-tiktoken: exact same counts, but BPE over a long piece
// without spaces (CJK text, base64, repeated letters) is 10–200× faster — js-tiktoken took minutes on some.
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { ApiSurface } from '../catalog/types.ts';
import { geminiList, geminiMember, geminiMembers, geminiObjects } from './gemini-fields.ts';
import { isRecord } from './json-value.ts';
import { mediaTokens } from './media-tokens.ts';
import { lengthEstimate } from './token-bounds.ts';

/** Special-token text (`<|endoftext|>`) in a prompt is counted as ordinary text, as providers do for users. */
const AS_TEXT = { disallowedSpecial: new Set<string>() };

/** Per-message framing tokens (role and separators), as OpenAI's own counting guide adds. */
const MESSAGE_OVERHEAD = 4;
/** Texts longer than this are estimated from their length: exact BPE over megabytes would stall the loop. */
const EXACT_LIMIT = 200_000;

export function estimateTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length > EXACT_LIMIT) return Math.ceil(text.length / 4);
  return countTokens(text, AS_TEXT);
}

/**
 * A request body as sent (JSON bytes): its estimate, never above the bound admission reads for free (token-bounds.ts):
 * its text, clamped to the body's byte length, plus its media (media-tokens.ts).
 */
export function estimateRawRequestInputTokens(raw: Uint8Array, surface: ApiSurface): number {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  } catch {
    return lengthEstimate(raw.byteLength);
  }
  if (!isRecord(body)) return 0;
  return Math.min(textInputTokens(body, surface), raw.byteLength) + mediaTokens(body);
}

/** A request's input: its text (and the JSON the model reads) and its media at their bounds. */
export function estimateRequestInputTokens(body: Record<string, unknown>, surface: ApiSurface): number {
  return textInputTokens(body, surface) + mediaTokens(body);
}

function textInputTokens(body: Record<string, unknown>, surface: ApiSurface): number {
  let total = 0;
  const add = (value: unknown) => { total += contentTokens(value); };
  switch (surface) {
    case 'chat-completions':
    case 'messages':
    case 'count-tokens':
      add(body.system);
      total += messagesTokens(body.messages);
      // What else the model reads as prompt: tool definitions (and chat's deprecated `functions`), and the schema
      // of a structured output (chat's `response_format`, Messages' `output_format` / `output_config`).
      total += jsonTokens(body.tools) + jsonTokens(body.functions) + jsonTokens(body.response_format) + jsonTokens(body.output_format) + jsonTokens(body.output_config);
      break;
    case 'responses':
      add(body.instructions);
      total += typeof body.input === 'string' ? estimateTokens(body.input) : messagesTokens(body.input);
      total += jsonTokens(body.tools) + jsonTokens(body.text);
      break;
    case 'completions':
      total += promptTokens(body.prompt);
      break;
    case 'embeddings':
      // OpenAI's `input`, or Gemini's `requests` (`:batchEmbedContents`), each a content of parts.
      total += body.requests === undefined ? promptTokens(body.input) : geminiEmbedTokens(body.requests);
      break;
    case 'embed-content':
      // Gemini's single `:embedContent`: one content, whose parts' text is what Google embeds (and counts).
      total += geminiPartsTokens(geminiMember(geminiMember(body, 'content'), 'parts'));
      break;
    case 'generate-content':
    case 'stream-generate-content': {
      // Gemini: `contents` turns of `parts`, the system instruction (a content too), tools (their JSON, whichever
      // spelling), and a response schema; each member under either name Google reads (gemini-fields.ts), and both
      // counted when a body sends both: an estimate that admits and holds credit must not come short of the prompt.
      total += geminiTurnsTokens(body.contents) + jsonTokens(body.tools);
      for (const system of geminiMembers(body, 'systemInstruction')) total += geminiPartsTokens(geminiMember(system, 'parts'));
      for (const config of geminiMembers(body, 'generationConfig')) {
        for (const schema of [...geminiMembers(config, 'responseSchema'), ...geminiMembers(config, 'responseJsonSchema')]) total += jsonTokens(schema);
      }
      break;
    }
    case 'interactions':
      // Gemini Interactions: `input` (a string, a content, contents, or steps), the system instruction, tools, and
      // the response format's schema; read under both of Google's names, as GenerateContent's members above.
      for (const system of geminiMembers(body, 'systemInstruction')) add(system);
      for (const format of geminiMembers(body, 'responseFormat')) total += jsonTokens(format);
      total += interactionInputTokens(body.input) + jsonTokens(body.tools);
      break;
    case 'converse':
    case 'converse-stream':
      // Bedrock Converse: `system` blocks and `messages` of content blocks (`{text}`, as Messages has them), and tools.
      add(body.system);
      total += messagesTokens(body.messages) + jsonTokens(body.toolConfig);
      break;
    case 'invoke':
    case 'invoke-stream':
      // InvokeModel takes the model's own body: Claude's is Anthropic's Messages request.
      add(body.system);
      total += messagesTokens(body.messages) + jsonTokens(body.tools);
      break;
  }
  return total;
}

/**
 * An interaction's `input`: text; a content (`{type: "text", text}`) or a list of them; or steps (`user_input`,
 * `model_output` with their contents, `function_call` arguments, `function_result` results).
 */
function interactionInputTokens(input: unknown): number {
  if (typeof input === 'string') return estimateTokens(input);
  const items = Array.isArray(input) ? input : isRecord(input) ? [input] : [];
  let total = contentTokens(items);
  for (const item of items) {
    if (!isRecord(item)) continue;
    total += jsonTokens(item.arguments);
    if (item.result !== undefined) total += typeof item.result === 'string' ? estimateTokens(item.result) : jsonTokens(item.result);
  }
  return total;
}

function geminiEmbedTokens(requests: unknown): number {
  if (!Array.isArray(requests)) return 0;
  let total = 0;
  for (const request of requests) if (isRecord(request) && isRecord(request.content)) total += geminiPartsTokens(request.content.parts);
  return total;
}

function geminiTurnsTokens(contents: unknown): number {
  let total = 0;
  for (const content of geminiObjects(contents)) total += MESSAGE_OVERHEAD + geminiPartsTokens(content.parts);
  return total;
}

/** Gemini parts: text, and the function calls and results the conversation carries (as their JSON). */
function geminiPartsTokens(parts: unknown): number {
  const list = geminiList(parts);
  let total = contentTokens(list);
  for (const part of geminiObjects(list)) {
    for (const value of [...geminiMembers(part, 'functionCall'), ...geminiMembers(part, 'functionResponse')]) total += jsonTokens(value);
  }
  return total;
}

function messagesTokens(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let total = 0;
  for (const message of messages) {
    if (typeof message === 'string') {
      total += estimateTokens(message);
      continue;
    }
    if (!isRecord(message)) continue;
    total += MESSAGE_OVERHEAD + contentTokens(message.content);
    // Responses input items: tool outputs (a string, or parts) and tool calls carry their text elsewhere; a
    // custom (freeform) call, in its `input`.
    if (message.output !== undefined) total += contentTokens(message.output);
    if (typeof message.arguments === 'string') total += estimateTokens(message.arguments);
    if (typeof message.input === 'string') total += estimateTokens(message.input);
    if (Array.isArray(message.tool_calls)) total += estimateTokens(JSON.stringify(message.tool_calls));
    // Chat's deprecated single call.
    if (isRecord(message.function_call)) total += estimateTokens(JSON.stringify(message.function_call));
  }
  return total;
}

/** A structured value the model reads (tool definitions, a schema) as the JSON it is sent as; none when absent. */
function jsonTokens(value: unknown): number {
  return value === undefined || value === null ? 0 : estimateTokens(JSON.stringify(value));
}

/** A string, or an array of content parts whose `text` (or nested tool-result `content`) is counted. */
function contentTokens(content: unknown): number {
  if (typeof content === 'string') return estimateTokens(content);
  if (!Array.isArray(content)) return 0;
  let total = 0;
  for (const part of content) {
    if (typeof part === 'string') total += estimateTokens(part);
    else if (isRecord(part)) {
      if (typeof part.text === 'string') total += estimateTokens(part.text);
      // An earlier answer's refusal (Responses and chat refusal parts), which goes back up as the assistant's text.
      if (typeof part.refusal === 'string') total += estimateTokens(part.refusal);
      if (part.content !== undefined) total += contentTokens(part.content);
      if (isRecord(part.input)) total += estimateTokens(JSON.stringify(part.input));
      // A Messages document given as text (`source.data`) or as content blocks; other documents are media.
      if (part.type === 'document' && isRecord(part.source)) {
        if (part.source.type === 'text' && typeof part.source.data === 'string') total += estimateTokens(part.source.data);
        if (part.source.type === 'content') total += contentTokens(part.source.content);
      }
    }
  }
  return total;
}

/** Completions `prompt` / embeddings `input`: a string, strings, or pre-tokenised integer arrays. */
function promptTokens(prompt: unknown): number {
  if (typeof prompt === 'string') return estimateTokens(prompt);
  if (!Array.isArray(prompt)) return 0;
  let total = 0;
  for (const item of prompt) {
    if (typeof item === 'string') total += estimateTokens(item);
    else if (typeof item === 'number') total += 1;
    else if (Array.isArray(item)) total += item.length;
  }
  return total;
}
