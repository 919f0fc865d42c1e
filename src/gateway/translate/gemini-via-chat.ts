// Gemini GenerateContent requests (Google's Gen AI SDK) served by a model that speaks only OpenAI chat completions:
// contents, system instruction, images and PDFs, function declarations, calls and responses, generation settings,
// finish reasons, usage and errors are mapped both ways; the SSE stream (`:streamGenerateContent?alt=sse`) is rebuilt
// chunk by chunk. docs/decisions/translation.md lists what has no place on the other side.
import type { AttemptPlan } from '../../domain/routing.ts';
import { randomBase62 } from '../../domain/ids.ts';
import { geminiJsonName, geminiList, geminiMember, geminiObject, geminiObjects, geminiSpelling } from '../../domain/gemini-fields.ts';
import { googleStatus } from '../formats/gemini.ts';
import { openaiUsage } from '../formats/openai.ts';
import { providerErrorKind } from '../formats/provider-error.ts';
import { obj } from '../formats/types.ts';
import { FromChatStream } from './chat-stream.ts';
import { unsendableImageReason } from './claude-images.ts';
import { fileText, parseDataUrl } from './data-url.ts';
import { answerToolInput, chatReasoning, chatText, invalidToolArguments, jsonSchemaFormat, objects, providerMessage, sealedReasoning, toolArgumentsProblem, uniqueCallId, unsealedReasoning, type Json } from './json.ts';
import { acceptsReasoningEffort, asksUsageChunk, chatStops, fittedOutputLimit, overMessages } from './output-limit.ts';
import { ChatToolNames, clientToolName } from './tool-names.ts';
import type { TranslatedRequest, TranslationScope, Translator } from './types.ts';

/**
 * GenerateContent fields with a chat-completions counterpart, by their JSON names; any other top-level field is
 * removed and reported. Every member of the request is read under either name Google reads (`system_instruction`,
 * `inline_data`, `function_call`…: domain/gemini-fields.ts), so the credit hold's output limit (params.ts) is the one
 * sent, and a body written in Google's REST spelling keeps its system prompt, media and tools.
 */
const MAPPED = new Set(['contents', 'systemInstruction', 'tools', 'toolConfig', 'generationConfig']);

/** `generationConfig` members with a chat counterpart; any other is removed and reported as `generationConfig.<name>`. */
const MAPPED_CONFIG = new Set(['temperature', 'topP', 'maxOutputTokens', 'stopSequences', 'candidateCount', 'responseMimeType', 'responseSchema', 'responseJsonSchema', 'seed', 'presencePenalty', 'frequencyPenalty', 'thinkingConfig']);

/** `toolConfig` members with a chat counterpart; any other is reported as `toolConfig.<name>`. */
const FUNCTION_CALLING = new Set(['functionCallingConfig']);

/**
 * The client's field each chat field came from: Ngrok-AIG-Removed-Params names what the client sent when the model
 * (params.ts), or the Messages half of a composition, drops one.
 */
export const GEMINI_CHAT_FIELDS: Readonly<Record<string, string>> = {
  max_tokens: 'generationConfig.maxOutputTokens', max_completion_tokens: 'generationConfig.maxOutputTokens',
  temperature: 'generationConfig.temperature', top_p: 'generationConfig.topP', stop: 'generationConfig.stopSequences',
  n: 'generationConfig.candidateCount', seed: 'generationConfig.seed', presence_penalty: 'generationConfig.presencePenalty',
  frequency_penalty: 'generationConfig.frequencyPenalty', response_format: 'generationConfig.responseMimeType',
  reasoning_effort: 'generationConfig.thinkingConfig', tools: 'tools', tool_choice: 'toolConfig',
};

/**
 * Audio chat's `input_audio` part takes, by its `format`: WAV and MP3 alone (OpenAI's two). Google names them
 * `audio/wav` and `audio/mp3`; `audio/mpeg` and `audio/x-wav` are the registered and the common labels of the same.
 */
const CHAT_AUDIO = new Map([['audio/wav', 'wav'], ['audio/x-wav', 'wav'], ['audio/wave', 'wav'], ['audio/mpeg', 'mp3'], ['audio/mp3', 'mp3']]);

/**
 * Inline data chat carries: images (as data URLs), PDFs (as `file` parts), WAV and MP3 audio (as `input_audio`); and
 * a text file (isTextMediaType: `text/*`, JSON, XML…) in UTF-8 or the charset its `mimeType` names
 * (`text/csv; charset=windows-1252`), as a `file` part chat-via-messages makes a text document of — only on the way
 * to Messages (Claude, and Converse's models after it): OpenAI's chat takes no text file, so a chat target refuses it
 * (geminiUntranslatableReason).
 */
function inlinePart(data: Json): Json | undefined {
  const type = geminiMember(data, 'mimeType');
  const mime = typeof type === 'string' ? type.toLowerCase() : '';
  const bytes = typeof data.data === 'string' ? data.data : undefined;
  if (bytes === undefined) return undefined;
  if (mime.startsWith('image/')) return { type: 'image_url', image_url: { url: `data:${mime};base64,${bytes}` } };
  if (mime === 'application/pdf') return { type: 'file', file: { filename: 'document.pdf', file_data: `data:application/pdf;base64,${bytes}` } };
  // The mimeType's parameters (its charset) go in the data URL, which chat-via-messages reads the text by.
  const file = textFile(`data:${mime};base64,${bytes}`);
  if (file !== undefined) return { type: 'file', file: { filename: 'document.txt', file_data: file } };
  const format = CHAT_AUDIO.get(mime);
  return format === undefined ? undefined : { type: 'input_audio', input_audio: { data: bytes, format } };
}

/** The data URL, when it holds a text file whose bytes are text in its charset. */
function textFile(url: unknown): string | undefined {
  // A comma in a parameter (`name="a,b"`) would end the URL's header there, and its data be read from mid-header.
  const file = typeof url === 'string' && url.indexOf(',') === url.indexOf(';base64,') + ';base64'.length ? parseDataUrl(url) : undefined;
  return file && fileText(file) !== undefined ? url as string : undefined;
}

/** Whether a part `inlinePart` made is a text file's. */
const isTextFile = (part: Json | undefined): boolean => textFile(obj(part?.file)?.file_data) !== undefined;

function partsOf(content: unknown): Json[] {
  return geminiObjects(obj(content)?.parts);
}

/** A part's inline data (`inlineData` or `inline_data`). */
const inlineDataOf = (part: Json): Json | undefined => geminiObject(part, 'inlineData');
/** A part's function call or function response, under either name. */
const callOf = (part: Json): Json | undefined => geminiObject(part, 'functionCall');
const responseOf = (part: Json): Json | undefined => geminiObject(part, 'functionResponse');

/**
 * Why a GenerateContent request cannot go to a chat model (`messages` false) or on to Messages (Claude), if it
 * cannot. `cachedContent` is a prefix Google holds (system instruction, turns, files): another model would answer
 * without it, as for a continued Messages thread. A file by `fileData` (a Files API or Cloud Storage URI) is
 * Google's to read; inline data the target has no part for (audio other than WAV or MP3, video, a text file; any
 * audio for Messages) would be left out. The refusal names the target the request was to reach.
 */
export function geminiUntranslatableReason(body: Json, messages: boolean): string | undefined {
  if (geminiMember(body, 'cachedContent') !== undefined) {
    return 'it uses "cachedContent", a prompt prefix held by Google that another model cannot read; send the whole conversation instead';
  }
  // A system prompt is text alone in chat and in Messages: media in it would be left out.
  const system = partsOf(geminiMember(body, 'systemInstruction')).find((p) => inlineDataOf(p) !== undefined || geminiMember(p, 'fileData') !== undefined);
  if (system) {
    return `it sends ${inlineDataOf(system) ? 'inline data' : 'a file by "fileData"'} in "systemInstruction", which ${messages ? 'Anthropic Messages' : 'chat completions'} cannot carry (a system prompt is text alone there); send it in a user turn instead`;
  }
  for (const content of geminiObjects(body.contents)) {
    for (const part of partsOf(content)) {
      const media = [part, ...geminiObjects(responseOf(part)?.parts)];
      if (media.some((p) => geminiMember(p, 'fileData') !== undefined)) return 'it sends a file by "fileData" (a URI only Google reads); send it as "inlineData" instead';
      const placed = media.flatMap((p) => { const data = inlineDataOf(p); return data ? [inlinePart(data)] : []; });
      if (placed.includes(undefined) || (!messages && placed.some(isTextFile))) {
        return messages
          ? 'it sends inline data Anthropic Messages cannot carry (only images, PDFs and text files in UTF-8 or the charset their mimeType names go to this model)'
          : 'it sends inline data chat completions cannot carry (only images, PDFs and WAV or MP3 audio go to this model)';
      }
      if (messages && placed.some((p) => p?.type === 'input_audio')) return 'it sends audio ("inlineData"), which Anthropic Messages cannot carry (Claude takes no audio); send its transcript as text instead';
      // An image Claude cannot take (HEIC and HEIF, which Gemini reads; BMP, TIFF) is named by its type.
      const image = messages ? placed.map((p) => obj(p?.image_url)?.url).map((url) => (typeof url === 'string' ? unsendableImageReason(url) : undefined)).find((reason) => reason !== undefined) : undefined;
      if (image !== undefined) return image;
    }
  }
  return undefined;
}

/**
 * A Part's data members (a oneof: Google refuses a part with none). `toolCall` and `toolResponse` are a built-in
 * tool's call and its output (Google Search beside function calling), which the client sends back as they came:
 * Google's own, left out as its code execution's are.
 */
const PART_DATA = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult', 'toolCall', 'toolResponse'];

/**
 * Why a part cannot be read, naming it, if it cannot: inline data without its `data` or `mimeType` (strings), or a
 * user's part with no data at all, is nothing to send, and Google refuses it sent as it is. The client's own 400
 * (index.ts), not "cannot be translated". (A model turn's part is the model's own: one with a thought signature
 * alone is left as it is.)
 */
export function geminiMalformedPartReason(body: Json): string | undefined {
  const system = geminiSpelling(body, 'systemInstruction');
  const holders: [string, unknown][] = [[system, geminiMember(body, 'systemInstruction')]];
  for (const [i, content] of geminiList(body.contents).entries()) holders.push([`contents[${i}]`, content]);
  for (const [where, content] of holders) {
    for (const [j, part] of geminiList(obj(content)?.parts).entries()) {
      const at = `${where}.parts[${j}]`;
      if (obj(content)?.role !== 'model' && !PART_DATA.some((name) => geminiMember(part, name) !== undefined)) return `"${at}" holds no data: give one of "text", "inlineData", "fileData", "functionCall" or "functionResponse"`;
      const responseParts = geminiList(responseOf(obj(part) ?? {})?.parts).map((p, k) => [`${at}.functionResponse.parts[${k}]`, p] as const);
      for (const [path, p] of [[at, part] as const, ...responseParts]) {
        const data = geminiMember(obj(p) ?? {}, 'inlineData');
        if (data !== undefined && (typeof obj(data)?.data !== 'string' || typeof geminiMember(data, 'mimeType') !== 'string')) return `"${path}.inlineData" needs "data" (base64) and "mimeType", both strings`;
      }
    }
  }
  return undefined;
}

/** The text of a Content (or a bare string), its parts' texts joined by a newline; thoughts left out. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return partsOf(content).filter((p) => typeof p.text === 'string' && p.thought !== true).map((p) => p.text as string).join('\n');
}

/** A function response as a tool message's text: its `output` when that is all it holds (the SDK's convention), else its JSON. */
function responseText(response: unknown): string {
  const r = obj(response);
  if (r && Object.keys(r).length === 1 && typeof r.output === 'string') return r.output;
  return JSON.stringify(response ?? {});
}

interface OpenCall { id: string; name: unknown }

/**
 * Writes the conversation as chat messages. Gemini pairs a `functionResponse` with its `functionCall` by `id` when
 * both carry one, else by order and name (its API before ids); chat pairs by id alone, so calls without one get ids of
 * the gateway's, the same every turn (`call_g<turn>_<part>`: a changing id would make the provider's prompt cache miss),
 * and each response takes the id of the call it answers: the same id, else the first open call of its name.
 */
class Conversation {
  readonly messages: Json[] = [];
  #open: OpenCall[] = [];
  readonly #used = new Set<string>();
  readonly #names: ChatToolNames;
  readonly #claude: boolean;

  /**
   * `names`: the upstream's names for the client's functions (Gemini's may hold `.` and `:`, chat's may not);
   * `claude`: the request goes on to Messages, where Claude's signed thinking, carried in a part's `thoughtSignature`
   * (answer()), goes back with its turn.
   */
  constructor(names: ChatToolNames, claude: boolean) {
    this.#names = names;
    this.#claude = claude;
  }

  model(content: Json, turn: number): void {
    let text = '';
    const calls: Json[] = [];
    const open: OpenCall[] = [];
    for (const [at, part] of partsOf(content).entries()) {
      // Thought summaries are the model's own (Gemini's thinking): another model neither needs nor accepts them.
      if (typeof part.text === 'string' && part.thought !== true) text += part.text;
      const call = callOf(part);
      if (!call) continue;
      const id = uniqueCallId(call.id, 'call_', `g${turn}_`, at, this.#used);
      calls.push({ id, type: 'function', function: { name: this.#names.nameOf(call.name), arguments: JSON.stringify(call.args ?? {}) } });
      open.push({ id, name: call.name });
    }
    this.#open = open;
    // A turn that was only thoughts has nothing for another model (some servers refuse an empty message).
    if (text === '' && calls.length === 0) return;
    const message: Json = { role: 'assistant', content: text === '' && calls.length > 0 ? null : text };
    if (calls.length > 0) message.tool_calls = calls;
    const details = this.#claude ? partsOf(content).flatMap((part) => unsealedReasoning(geminiMember(part, 'thoughtSignature'))) : [];
    if (details.length > 0) message.reasoning_details = details;
    this.messages.push(message);
  }

  /**
   * A user turn: its function responses first, as `tool` messages (chat wants a call's result right after the turn
   * that made it), then its text and media. Media a function returned follow in the user message, each after a line
   * naming its call, as for the other translations. A response answering no call becomes the user's text.
   */
  user(content: Json): void {
    const parts: Json[] = [];
    for (const part of partsOf(content)) {
      const response = responseOf(part);
      if (response) {
        const id = this.#answered(response);
        const text = responseText(response.response);
        if (id === undefined) parts.push({ type: 'text', text: `Output of tool call ${String(response.name)}:\n${text}` });
        else this.messages.push({ role: 'tool', tool_call_id: id, content: text });
        const media = geminiObjects(response.parts).map((p) => inlinePart(inlineDataOf(p) ?? {})).filter((p): p is Json => p !== undefined);
        if (media.length > 0) parts.push({ type: 'text', text: `Output of tool call ${id ?? String(response.name)}:` }, ...media);
      } else if (typeof part.text === 'string' && part.thought !== true) {
        parts.push({ type: 'text', text: part.text });
      } else {
        const data = inlineDataOf(part);
        const media = data ? inlinePart(data) : undefined;
        if (media) parts.push(media);
      }
    }
    this.#open = [];
    if (parts.length === 1 && parts[0]!.type === 'text') this.messages.push({ role: 'user', content: parts[0]!.text });
    else if (parts.length > 0) this.messages.push({ role: 'user', content: parts });
  }

  #answered(response: Json): string | undefined {
    const at = this.#open.findIndex((c) => typeof response.id === 'string' && c.id === response.id);
    const found = at >= 0 ? at : this.#open.findIndex((c) => c.name === response.name);
    if (found < 0) return undefined;
    return this.#open.splice(found, 1)[0]!.id;
  }
}

const SCHEMA_COUNTS = new Set(['minItems', 'maxItems', 'minLength', 'maxLength', 'minProperties', 'maxProperties']);

/**
 * Gemini's Schema (an OpenAPI subset: `type` in capitals, `nullable`, int64 counts written as strings) as the JSON
 * Schema chat takes. `propertyOrdering` is Gemini's alone. A JSON Schema given as one is kept (types lowercased).
 * Schema is a proto message, so its members come under either name (`any_of`, `max_items`) and go out as JSON
 * Schema's keywords; property names, enum values and examples are the client's and go as sent.
 */
function jsonSchemaOf(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(jsonSchemaOf);
  const s = obj(schema);
  if (!s) return schema;
  const out: Json = {};
  for (const [written, value] of Object.entries(s)) {
    const key = geminiJsonName(written);
    if (key === 'nullable' || key === 'propertyOrdering') continue;
    if (key === 'type' && typeof value === 'string') out.type = value.toLowerCase();
    else if (key === 'properties') out.properties = Object.fromEntries(Object.entries(obj(value) ?? {}).map(([name, p]) => [name, jsonSchemaOf(p)]));
    else if (key === 'items' || key === 'anyOf') out[key] = jsonSchemaOf(value);
    else if (SCHEMA_COUNTS.has(key) && typeof value === 'string' && /^\d+$/.test(value)) out[key] = Number(value);
    else out[key] = value;
  }
  if (geminiMember(s, 'nullable') === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

/** A function declaration as a chat tool; `parametersJsonSchema` is JSON Schema already, `parameters` Gemini's Schema. */
function chatTool(declaration: Json, names: ChatToolNames): Json {
  const schema = geminiMember(declaration, 'parametersJsonSchema');
  const parameters = schema ?? (declaration.parameters !== undefined && declaration.parameters !== null ? jsonSchemaOf(declaration.parameters) : { type: 'object', properties: {} });
  return { type: 'function', function: { name: names.nameOf(declaration.name), ...(typeof declaration.description === 'string' ? { description: declaration.description } : {}), parameters } };
}

/**
 * `toolConfig.functionCallingConfig` → chat's tool_choice. `allowedFunctionNames` narrows the tools offered (chat's
 * own narrowing, `allowed_tools`, is OpenAI's alone): one name under ANY is that function, forced.
 */
function toolChoice(config: Json | undefined, tools: Json[], names: ChatToolNames): { choice?: unknown; tools: Json[] } {
  const mode = typeof config?.mode === 'string' ? config.mode.toUpperCase() : 'AUTO';
  if (mode === 'NONE') return { choice: 'none', tools };
  const allowed = geminiList(geminiMember(config, 'allowedFunctionNames')).filter((n): n is string => typeof n === 'string').map((n) => names.nameOf(n));
  const offered = allowed.length > 0 ? tools.filter((t) => allowed.includes(String(obj(t.function)?.name))) : tools;
  const kept = offered.length > 0 ? offered : tools;
  if (mode !== 'ANY') return config === undefined ? { tools: kept } : { choice: 'auto', tools: kept };
  return allowed.length === 1 && kept.length === 1 ? { choice: { type: 'function', function: { name: obj(kept[0]!.function)?.name } }, tools: kept } : { choice: 'required', tools: kept };
}

/** Gemini's thinking levels (proto enum names, which Google takes in either case) → OpenAI's reasoning effort. */
const LEVEL_EFFORTS: Readonly<Record<string, string>> = { minimal: 'low', low: 'low', medium: 'medium', high: 'high' };

/**
 * Gemini's thinking settings → OpenAI's reasoning effort: its level as it is, a budget by its size (dynamic, -1:
 * medium). A budget of 0 turns Gemini's thinking off: for Claude (through Messages) that is `none`, its default, and
 * for DeepSeek's V4 `none` is its switch turned off (params.ts), so no thinking is bought that the client declined
 * (`offIsNone`); OpenAI's reasoning models always reason, at least `low`.
 * A level Gemini lacks, or a budget that is no whole number from -1 up, is one Google refuses: undefined (the setting
 * is named removed), not a guess.
 */
function effortOf(thinking: Json, offIsNone: boolean): string | undefined {
  const named = geminiMember(thinking, 'thinkingLevel');
  const level = typeof named === 'string' ? named.toLowerCase() : undefined;
  if (named !== undefined && level !== 'thinking_level_unspecified') return level !== undefined && Object.hasOwn(LEVEL_EFFORTS, level) ? LEVEL_EFFORTS[level] : undefined;
  const budget = geminiMember(thinking, 'thinkingBudget');
  if (typeof budget !== 'number' || !Number.isSafeInteger(budget) || budget < -1) return undefined;
  if (budget === 0 && offIsNone) return 'none';
  if (budget < 0) return 'medium';
  return budget < 4096 ? 'low' : budget < 16_384 ? 'medium' : 'high';
}

/** Structured output: JSON with a schema → `json_schema` (strict when OpenAI's rules allow it), JSON alone → `json_object`. */
function responseFormat(config: Json): Json | undefined {
  if (geminiMember(config, 'responseMimeType') !== 'application/json') return undefined;
  const schema = geminiObject(config, 'responseJsonSchema') ?? obj(jsonSchemaOf(geminiMember(config, 'responseSchema')));
  if (!schema) return { type: 'json_object' };
  return jsonSchemaFormat(schema);
}

/**
 * The members of `holder` with no chat counterpart, as the client named them (`prefix` their holder's name): one
 * not in `mapped`, or a member sent under both its names (the one read is the JSON name's).
 */
function unmapped(holder: Json, mapped: ReadonlySet<string>, prefix: string): string[] {
  return Object.keys(holder).filter((name) => {
    const json = geminiJsonName(name);
    return !mapped.has(json) || (json !== name && Object.hasOwn(holder, json));
  }).map((name) => prefix + name);
}

function request(body: Json, plan: AttemptPlan, streaming: boolean): TranslatedRequest {
  const removed = unmapped(body, MAPPED, '');
  const names = new ChatToolNames(requestFunctionNames(body));
  const conversation = new Conversation(names, overMessages(plan));
  const system = textOf(geminiMember(body, 'systemInstruction'));
  if (system !== '') conversation.messages.push({ role: 'system', content: system });
  for (const [turn, content] of geminiObjects(body.contents).entries()) {
    if (content.role === 'model') conversation.model(content, turn);
    else conversation.user(content);
  }
  const out: Json = { model: plan.candidate.upstreamModelId ?? plan.candidate.modelId, messages: conversation.messages };
  const config = geminiObject(body, 'generationConfig') ?? {};
  const setting = (name: string): unknown => geminiMember(config, name);
  /** A generation setting as the client named it (`generation_config.stop_sequences`). */
  const configName = (name: string): string => geminiSpelling(body, `generationConfig.${name}`);
  removed.push(...unmapped(config, MAPPED_CONFIG, `${geminiSpelling(body, 'generationConfig')}.`));
  const limit = setting('maxOutputTokens');
  if (limit !== undefined) out.max_tokens = fittedOutputLimit(limit, plan);
  if (setting('temperature') !== undefined) out.temperature = setting('temperature');
  if (setting('topP') !== undefined) out.top_p = setting('topP');
  const stops = geminiList(setting('stopSequences'));
  if (stops.length > 0) {
    const sent = chatStops(stops, plan);
    out.stop = sent;
    if (sent.length < stops.length) removed.push(configName('stopSequences'));
  }
  const candidates = setting('candidateCount');
  if (typeof candidates === 'number' && candidates > 1) {
    // A chat stream's choices would interleave in one Gemini stream the translation reads as one candidate.
    if (streaming) removed.push(configName('candidateCount'));
    else out.n = candidates;
  }
  if (setting('seed') !== undefined) out.seed = setting('seed');
  if (setting('presencePenalty') !== undefined) out.presence_penalty = setting('presencePenalty');
  if (setting('frequencyPenalty') !== undefined) out.frequency_penalty = setting('frequencyPenalty');
  const format = responseFormat(config);
  const mime = setting('responseMimeType');
  if (format) out.response_format = format;
  else if (mime !== undefined && mime !== 'text/plain') {
    // `text/x.enum` and the like: no chat counterpart.
    for (const name of ['responseMimeType', 'responseSchema', 'responseJsonSchema']) if (setting(name) !== undefined) removed.push(configName(name));
  }
  const thinking = geminiObject(config, 'thinkingConfig');
  const effort = thinking ? effortOf(thinking, overMessages(plan) || plan.candidate.catalogModel?.thinkingSwitch === true) : undefined;
  if (effort !== undefined && acceptsReasoningEffort(plan)) out.reasoning_effort = effort;
  else if (thinking) removed.push(configName('thinkingConfig'));
  // Function declarations map one to one; Google's own tools (Search grounding, code execution, URL context, Maps…)
  // run only at Google.
  const tools = geminiObjects(body.tools);
  const declarations = tools.flatMap((t) => geminiObjects(geminiMember(t, 'functionDeclarations')));
  if (tools.some((t) => Object.keys(t).some((k) => geminiJsonName(k) !== 'functionDeclarations'))) removed.push('tools');
  const toolConfig = geminiObject(body, 'toolConfig');
  const toolConfigName = geminiSpelling(body, 'toolConfig');
  if (declarations.length > 0) {
    const calling = toolChoice(geminiObject(toolConfig, 'functionCallingConfig'), declarations.map((d) => chatTool(d, names)), names);
    out.tools = calling.tools;
    if (calling.choice !== undefined) out.tool_choice = calling.choice;
    removed.push(...unmapped(toolConfig ?? {}, FUNCTION_CALLING, `${toolConfigName}.`));
  } else if (toolConfig !== undefined) removed.push(toolConfigName);
  if (streaming) {
    out.stream = true;
    if (asksUsageChunk(out, plan)) out.stream_options = { include_usage: true };
  }
  // The fields a model refuses are named as this client spelled them (sentField in attempt.ts finds them so).
  const clientFields = Object.fromEntries(Object.entries(GEMINI_CHAT_FIELDS).map(([field, named]) => [field, geminiSpelling(body, named)]));
  return names.back.size > 0 ? { body: out, removed, clientFields, toolNames: names.back } : { body: out, removed, clientFields };
}

/** The names of a request's function declarations and earlier calls (ChatToolNames keeps those that fit for themselves). */
function requestFunctionNames(body: Json): unknown[] {
  const declared = geminiObjects(body.tools).flatMap((t) => geminiObjects(geminiMember(t, 'functionDeclarations')));
  const called = geminiObjects(body.contents).flatMap((c) => partsOf(c).map(callOf)).filter((c): c is Json => c !== undefined);
  return [...declared, ...called].map((d) => d.name);
}

/**
 * Chat's finish reason → Gemini's. A call ends with STOP at Gemini too (it has no reason of its own for calls); a
 * content filter is SAFETY. A reason chat does not define is OTHER; none at all (a server that names none) STOP.
 */
function finishReason(finish: unknown): string {
  switch (finish) {
    case 'length': return 'MAX_TOKENS';
    case 'content_filter': return 'SAFETY';
    case 'stop': case 'tool_calls': case 'function_call': case null: case undefined: return 'STOP';
    default: return typeof finish === 'string' ? 'OTHER' : 'STOP';
  }
}

/**
 * Chat usage → usageMetadata, read as the meter reads it (formats/openai.ts), so the client is told what it is
 * billed for. Gemini counts thinking apart from the candidates (`thoughtsTokenCount`); chat counts it inside the
 * completion.
 */
function usageMetadata(usage: unknown): Json | undefined {
  const u = openaiUsage(usage);
  if (!u) return undefined;
  const out: Json = { promptTokenCount: u.inputTokens, candidatesTokenCount: Math.max(0, u.outputTokens - u.reasoningTokens), totalTokenCount: u.inputTokens + u.outputTokens };
  if (u.reasoningTokens > 0) out.thoughtsTokenCount = u.reasoningTokens;
  if (u.cacheReadTokens > 0) out.cachedContentTokenCount = u.cacheReadTokens;
  return out;
}

function functionCallPart(id: string, name: unknown, args: unknown): Json {
  return { functionCall: { id, name: typeof name === 'string' ? name : '', args: answerToolInput(args, name) } };
}

/** A Content's parts are never empty: the Gen AI SDK's chat session drops a turn holding an empty one from its history. */
function content(parts: Json[]): Json {
  return { role: 'model', parts: parts.length > 0 ? parts : [{ text: '' }] };
}

/** The provider's completion id as `responseId`; one of ours when it gave none. */
function responseId(id: unknown): string {
  return typeof id === 'string' && id !== '' ? id : randomBase62(24);
}

/** Whether the request asked for the model's thoughts (`thinkingConfig.includeThoughts`), which Gemini returns only then. */
function includesThoughts(request: Json | undefined): boolean {
  return geminiMember(geminiObject(geminiObject(request, 'generationConfig'), 'thinkingConfig'), 'includeThoughts') === true;
}

/**
 * The answer's signed reasoning (Claude's, chat-via-messages.ts) as a `thoughtSignature`, where Gemini puts its own:
 * on the first function call, else on the last part. The Gen AI SDK's chat session keeps parts as they came, so it
 * goes back with the turn.
 */
function signParts(parts: Json[], details: readonly Json[]): void {
  if (details.length === 0) return;
  if (parts.length === 0) parts.push({ text: '' });
  const signed = parts.find((p) => p.functionCall !== undefined) ?? parts.at(-1)!;
  signed.thoughtSignature = sealedReasoning(details);
}

function answer(upstream: unknown, scope: TranslationScope): unknown {
  const chat = obj(upstream) ?? {};
  const base = randomBase62(20);
  const used = new Set<string>();
  const thoughts = includesThoughts(scope.request);
  const candidates = objects(chat.choices).map((choice, at) => {
    const message = obj(choice.message) ?? {};
    const parts: Json[] = [];
    // The model's reasoning as a thought part (Gemini's thought summaries), when the client asked for thoughts.
    const thought = chatReasoning(message);
    if (thoughts && thought !== '') parts.push({ text: thought, thought: true });
    const text = chatText(message.content);
    if (text !== '') parts.push({ text });
    if (typeof message.refusal === 'string' && message.refusal !== '') parts.push({ text: message.refusal });
    for (const [index, call] of objects(message.tool_calls).entries()) {
      const fn = obj(call.function);
      parts.push(functionCallPart(uniqueCallId(call.id, 'call_', `${base}${at}_`, index, used), clientToolName(fn?.name, scope.toolNames), fn?.arguments));
    }
    signParts(parts, objects(message.reasoning_details));
    return { content: content(parts), finishReason: finishReason(choice.finish_reason), index: typeof choice.index === 'number' ? choice.index : at };
  });
  const out: Json = { candidates };
  const usage = usageMetadata(chat.usage);
  if (usage) out.usageMetadata = usage;
  out.modelVersion = typeof chat.model === 'string' ? chat.model : '';
  out.responseId = responseId(chat.id);
  return out;
}

/** A provider refusal in Google's error shape (google.rpc.Status), its HTTP status kept: the SDK raises an ApiError with it. */
function error(status: number, upstream: string): string {
  return JSON.stringify({ error: { code: status, message: providerMessage(upstream), status: googleStatus(status) } });
}

/** A chat provider's stream error → the HTTP status Google would give the same failure, which the SDK raises it with. */
function streamErrorStatus(error: Json): number {
  switch (providerErrorKind(error)) {
    case 'client-fault': return 400;
    case 'rate-limited': case 'quota': return 429;
    case 'overloaded': return 503;
    default: return 500;
  }
}

/**
 * Chat completion chunks → Gemini's SSE chunks, each a whole GenerateContentResponse as Google streams them. Text goes
 * out one piece behind, so the final chunk (finish reason, usage) carries content, as Google's does; calls go whole
 * in it, as Gemini streams calls (never their arguments in pieces).
 */
class ChatToGemini extends FromChatStream {
  #id = '';
  #model = '';
  #held: string | undefined;
  readonly #calls = new Map<number, { id: string | undefined; name: string; args: string }>();
  #finish: unknown;
  #usage: unknown;
  readonly #base = randomBase62(20);
  readonly #names: ReadonlyMap<string, string> | undefined;
  readonly #thoughts: boolean;
  /** The answer's signed reasoning (it comes whole, at the end): the final chunk's `thoughtSignature`. */
  #details: Json[] = [];

  /** `names`: the client's names of the functions the request renamed for the upstream; `thoughts`: includesThoughts. */
  constructor(names: ReadonlyMap<string, string> | undefined, thoughts: boolean) {
    super();
    this.#names = names;
    this.#thoughts = thoughts;
  }

  /** Reasoning as thought parts, a chunk each, when the client asked for thoughts. */
  protected override reasoning(piece: string): void {
    if (!this.#thoughts) return;
    if (this.#held !== undefined) this.#chunk([{ text: this.#held }]);
    this.#held = undefined;
    this.#chunk([{ text: piece, thought: true }]);
  }

  protected override reasoningDetails(details: Json[]): void {
    this.#details = details;
  }

  protected started(chunk: Json): void {
    this.#id = responseId(chunk.id);
    this.#model = typeof chunk.model === 'string' ? chunk.model : '';
  }

  protected usage(usage: unknown): void {
    this.#usage = usage;
  }

  protected text(piece: string): void {
    if (this.#held !== undefined) this.#chunk([{ text: this.#held }]);
    this.#held = piece;
  }

  protected toolCall(call: Json): void {
    const at = typeof call.index === 'number' ? call.index : 0;
    const fn = obj(call.function);
    let held = this.#calls.get(at);
    if (!held) this.#calls.set(at, (held = { id: undefined, name: '', args: '' }));
    if (typeof call.id === 'string' && call.id !== '' && held.id === undefined) held.id = call.id;
    if (typeof fn?.name === 'string' && fn.name !== '' && held.name === '') held.name = fn.name;
    if (typeof fn?.arguments === 'string') held.args += fn.arguments;
  }

  protected finishReason(reason: string): void {
    this.#finish = reason;
  }

  protected failed(error: Json): void {
    if (this.#held !== undefined) this.#chunk([{ text: this.#held }]);
    this.#held = undefined;
    // The Gen AI SDK raises an ApiError with the code of a chunk holding an error, as Google sends one mid-stream.
    const status = streamErrorStatus(error);
    const message = typeof error.message === 'string' && error.message !== '' ? error.message : 'The provider failed.';
    this.out += `data: ${JSON.stringify({ error: { code: status, message, status: googleStatus(status) } })}\r\n\r\n`;
  }

  protected close(): void {
    const parts: Json[] = this.#held !== undefined ? [{ text: this.#held }] : [];
    this.#held = undefined;
    const used = new Set<string>();
    for (const [at, call] of this.#calls) {
      const name = clientToolName(call.name, this.#names);
      const problem = toolArgumentsProblem(call.args);
      if (problem !== undefined) {
        // Calls go whole in the final chunk: none of them is sent, the text before them is, then the error chunk.
        if (parts.length > 0 && parts[0]!.text !== undefined) this.#chunk([parts[0]!]);
        this.refused = invalidToolArguments(name, problem);
        return;
      }
      parts.push(functionCallPart(uniqueCallId(call.id, 'call_', this.#base, at, used), name, call.args));
    }
    signParts(parts, this.#details);
    this.#chunk(parts, finishReason(this.#finish), usageMetadata(this.#usage));
  }

  #chunk(parts: Json[], finish?: string, usage?: Json): void {
    const candidate: Json = { content: content(parts) };
    if (finish !== undefined) candidate.finishReason = finish;
    candidate.index = 0;
    const chunk: Json = { candidates: [candidate] };
    if (usage) chunk.usageMetadata = usage;
    chunk.modelVersion = this.#model;
    chunk.responseId = this.#id;
    this.out += `data: ${JSON.stringify(chunk)}\r\n\r\n`;
  }
}

function translator(streaming: boolean): Translator {
  return { request: (body, plan) => request(body, plan, streaming), answer, error, stream: (scope) => new ChatToGemini(scope.toolNames, includesThoughts(scope.request)) };
}

/** `:generateContent`, answered in one JSON body. */
export const geminiViaChat = translator(false);
/** `:streamGenerateContent?alt=sse`: the path says it streams, the body does not. */
export const geminiStreamViaChat = translator(true);
