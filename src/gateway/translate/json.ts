// Reading the untrusted JSON the translators take apart (request bodies, answers, events): what every one of them
// needs, so each format's module holds only its mapping.
import { obj, parseJson } from '../formats/types.ts';
import { tollgateError, type TollgateError } from '../../domain/errors.ts';

export type Json = Record<string, unknown>;

/**
 * A client's part type as a refusal quotes it: a string cut to 64 characters (a client may send a megabyte there),
 * anything else by its JSON type alone.
 */
export function quotedPartType(type: unknown): string {
  if (typeof type !== 'string') return type === undefined || type === null ? 'null' : `(a ${Array.isArray(type) ? 'array' : typeof type})`;
  return JSON.stringify(type.length > 64 ? `${type.slice(0, 64)}…` : type);
}

/** The objects of an array (anything else in it, and anything not an array, is nothing). */
export function objects(v: unknown): Json[] {
  return Array.isArray(v) ? v.map(obj).filter((x): x is Json => x !== undefined) : [];
}

/**
 * The text of a chat answer's `content` (or a stream delta's): a string, or an array of parts whose `text` parts
 * are the answer (Mistral's reasoning models send `[{type: thinking…}, {type: text…}]`); '' for anything else.
 */
export function chatText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    const p = obj(part);
    if (p?.type === 'text' && typeof p.text === 'string') text += p.text;
  }
  return text;
}

/**
 * The reasoning a chat answer (or a stream delta) carries as text: DeepSeek's `reasoning_content`, which vLLM, SGLang,
 * Kimi and GLM use too, else `reasoning` (OpenRouter's, Groq's and newer vLLM's spelling); '' when neither.
 */
export function chatReasoning(message: Json | undefined): string {
  const content = message?.reasoning_content;
  if (typeof content === 'string' && content !== '') return content;
  return typeof message?.reasoning === 'string' ? message.reasoning : '';
}

/**
 * An answer's chat `reasoning_details` (Claude's signed thinking, chat-via-messages.ts) as one opaque string, for a
 * client format whose field for it is a string (a Responses reasoning item's `encrypted_content`, a Gemini part's
 * `thoughtSignature`): base64 JSON, which the client sends back unchanged.
 */
export function sealedReasoning(details: readonly Json[]): string {
  return Buffer.from(JSON.stringify(details)).toString('base64');
}

/** The `reasoning_details` a string written by sealedReasoning holds; none for anything else (OpenAI's, Google's own). */
export function unsealedReasoning(sealed: unknown): Json[] {
  return typeof sealed === 'string' ? objects(parseJson(Buffer.from(sealed, 'base64').toString('utf8'))) : [];
}

/**
 * A tool call's arguments (chat's JSON text) as its input object, in a client's request history: arguments that are
 * not a JSON object give `{}` (the call was made already; what it was given is the client's record).
 */
export function toolInput(args: unknown): Json {
  const parsed = typeof args === 'string' && args !== '' ? parseJson(args) : undefined;
  return obj(parsed) ?? {};
}

/**
 * Why a model's tool call arguments are not an input object, said as ngrok's message ends ("aren't REASON"), if they
 * are not: text cut inside the JSON (a model at its output limit) or JSON of another kind. None at all (absent, or
 * '' from a server that sends no arguments for a call that takes none) is an empty input.
 */
export function toolArgumentsProblem(args: unknown): string | undefined {
  if (args === undefined || args === null || args === '') return undefined;
  if (typeof args !== 'string') return obj(args) ? undefined : 'a JSON object';
  const parsed = parseJson(args);
  if (parsed === undefined) return 'valid JSON';
  return obj(parsed) ? undefined : 'a JSON object';
}

/** The refusal of an answer whose call `tool` (as the client names it) has such arguments. */
export function invalidToolArguments(tool: unknown, reason: string): TollgateError {
  return tollgateError('toolCallArgumentsInvalid', { tool: typeof tool === 'string' ? tool.slice(0, 128) : '', reason });
}

/**
 * A model's tool call arguments as the input object a client's format carries (Messages' `input`, Gemini's `args`):
 * arguments that are none (toolArgumentsProblem) are refused rather than passed on as `{}`, with which the client
 * would run the tool (ngrok's ERR_NGROK_AI_GATEWAY_TOOL_CALL_ARGUMENTS_INVALID).
 */
export function answerToolInput(args: unknown, tool: unknown): Json {
  const problem = toolArgumentsProblem(args);
  if (problem !== undefined) throw invalidToolArguments(tool, problem);
  return typeof args === 'string' ? obj(parseJson(args)) ?? {} : obj(args) ?? {};
}

/** A JSON Schema node describing an object (`type` "object", alone or among others, or `properties` given). */
export function isObjectSchema(schema: Json): boolean {
  return schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object')) || schema.properties !== undefined;
}

/**
 * OpenAI's strict rules: an object at the root; every object closed (additionalProperties: false) and listing all
 * its properties as required, all the way down; none of the composition keywords it refuses. Conservative: a schema
 * this cannot vouch for goes without `strict` (OpenAI refuses a strict schema that breaks the rules).
 */
export function meetsStrictRules(schema: unknown): boolean {
  const s = obj(schema);
  return s !== undefined && isObjectSchema(s) && strictNode(s);
}

function strictNode(schema: unknown): boolean {
  if (Array.isArray(schema)) return schema.every(strictNode);
  const s = obj(schema);
  if (!s) return typeof schema === 'boolean' ? false : true;
  if (s.allOf !== undefined || s.not !== undefined || s.if !== undefined || s.oneOf !== undefined || s.patternProperties !== undefined) return false;
  if (isObjectSchema(s)) {
    const properties = obj(s.properties) ?? {};
    const required = Array.isArray(s.required) ? s.required : [];
    if (s.additionalProperties !== false || Object.keys(properties).some((key) => !required.includes(key))) return false;
    if (!Object.values(properties).every(strictNode)) return false;
  }
  return [s.items, s.anyOf, ...Object.values(obj(s.$defs) ?? {}), ...Object.values(obj(s.definitions) ?? {})].every((part) => part === undefined || strictNode(part));
}

/** Chat's structured output for a JSON Schema: strict only when it meets OpenAI's rules (OpenAI refuses one that does not). */
export function jsonSchemaFormat(schema: Json): Json {
  return { type: 'json_schema', json_schema: { name: 'output', schema, strict: meetsStrictRules(schema) } };
}

/** The message of a provider's error answer, whatever its shape (OpenAI's, Anthropic's, plain text). */
export function providerMessage(upstream: string): string {
  const parsed = obj(parseJson(upstream));
  const message = obj(parsed?.error)?.message ?? parsed?.message;
  return typeof message === 'string' && message !== '' ? message : upstream.slice(0, 2000);
}

/**
 * A translated answer's call id: the provider's, or one of ours (`<prefix><base><index>`, unique across turns) when
 * it gave none or an empty one (LM Studio, Gemini's OpenAI-compatible endpoint), or one an earlier call of the
 * answer has (`used`, the answer's ids so far). Clients pair each result with its call by it.
 */
export function uniqueCallId(id: unknown, prefix: string, base: string, index: number, used: Set<string>): string {
  const given = typeof id === 'string' && id !== '' && !used.has(id) ? id : `${prefix}${base}${index}`;
  used.add(given);
  return given;
}
