// OpenAI wire format: `{"error":{type,code,message}}` errors, usage from chat/completions/responses/embeddings
// answers, and SSE metering (chat and completions chunks end with `data: [DONE]`; Responses ends with
// `response.completed` carrying usage).
import type { ApiSurface } from '../../catalog/types.ts';
import type { TollgateError } from '../../domain/errors.ts';
import { appendText, lastRawStringAfter, errorMessage, firstStringOf, num, objectAt, obj, outputParts, parseJson, rawStringAfter, spacedJson, stringOr, topLevelValueStarts, type AnswerFacts, type FormatCodec, type ReportedUsage, type StreamFacts } from './types.ts';

function errorJson(error: TollgateError): string {
  return JSON.stringify({ error: { type: error.spec.type ?? 'api_error', code: error.code, message: errorMessage(error), param: null } });
}

/** chat/completions/embeddings usage (`prompt_tokens`…) or Responses usage (`input_tokens`…). */
export function openaiUsage(u: unknown): ReportedUsage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  const chatNaming = 'prompt_tokens' in usage || 'completion_tokens' in usage;
  // Relays in front of many providers (one-api / new-api) write both namings, the unused one as zeros: the
  // Responses naming counts only when it counts something or stands alone.
  if (('input_tokens' in usage || 'output_tokens' in usage) && (!chatNaming || num(usage.input_tokens) + num(usage.output_tokens) > 0)) {
    const input = num(usage.input_tokens);
    const unlisted = unlistedOutput(usage.total_tokens, input, num(usage.output_tokens));
    return {
      inputTokens: input, outputTokens: num(usage.output_tokens) + unlisted,
      cacheReadTokens: num(obj(usage.input_tokens_details)?.cached_tokens), cacheWriteTokens: 0,
      reasoningTokens: Math.max(num(obj(usage.output_tokens_details)?.reasoning_tokens), unlisted),
    };
  }
  if (!chatNaming) return undefined;
  const input = num(usage.prompt_tokens);
  const completion = num(usage.completion_tokens);
  const unlisted = unlistedOutput(usage.total_tokens, input, completion);
  return {
    inputTokens: input, outputTokens: completion + unlisted,
    // DeepSeek reports its cache hits at the top level (`prompt_cache_hit_tokens`), Moonshot's Kimi as `cached_tokens`
    // there, not in the details: either is billed at the model's cache-read rate by its provider.
    cacheReadTokens: num(obj(usage.prompt_tokens_details)?.cached_tokens) || num(usage.prompt_cache_hit_tokens) || num(usage.cached_tokens), cacheWriteTokens: 0,
    reasoningTokens: Math.max(num(obj(usage.completion_tokens_details)?.reasoning_tokens), unlisted),
  };
}

/**
 * Tokens the total counts beyond input and output: reasoning a provider left out of its output count. OpenAI counts
 * reasoning inside `completion_tokens` (the total is the sum of the two); xAI reports it beside, in the details, and
 * Gemini's OpenAI-compatible API not at all — only its total includes the thinking. Either way it was generated,
 * and the provider bills it as output.
 */
function unlistedOutput(total: unknown, input: number, output: number): number {
  const extra = num(total) - input - output;
  return extra > 0 ? extra : 0;
}

/**
 * A Responses answer's usage with the web searches it ran (`web_search_call` output items, billed per call); the
 * usage object itself does not count them.
 */
function responsesUsage(response: Record<string, unknown>): ReportedUsage | undefined {
  const usage = openaiUsage(response.usage);
  const searches = usage ? searchesIn(response) : 0;
  if (searches > 0) usage!.webSearchRequests = searches;
  return usage;
}

function searchesIn(response: Record<string, unknown>): number {
  let searches = 0;
  if (Array.isArray(response.output)) for (const item of response.output) if (isBilledSearch(obj(item))) searches++;
  return searches;
}

/**
 * A web search call OpenAI bills: one that did not fail and searched. Reasoning models also open pages and find in
 * them (`action.type` `open_page`, `find`), which OpenAI prices as no search; an item without an action is the
 * older preview tool's search.
 */
function isBilledSearch(item: Record<string, unknown> | undefined): boolean {
  if (item?.type !== 'web_search_call' || item.status === 'failed') return false;
  const action = obj(item.action)?.type;
  return action === undefined || action === 'search';
}

/**
 * Adds the containers the Responses output items name to `seen`, each once: a `code_interpreter_call`'s `container_id`,
 * a hosted `shell_call`'s `environment.container_id` (OpenAI bills a session per container either way).
 */
function containersIn(output: unknown, seen: string[] = []): string[] {
  if (Array.isArray(output)) for (const item of output) noteContainer(obj(item), seen);
  return seen;
}

function noteContainer(item: Record<string, unknown> | undefined, seen: string[]): void {
  const id = item?.type === 'code_interpreter_call' ? item.container_id : item?.type === 'shell_call' ? obj(item.environment)?.container_id : undefined;
  if (typeof id === 'string' && id !== '' && !seen.includes(id)) seen.push(id.slice(0, 128));
}

/** An event's JSON may hold an item naming a container (a cheap check before the parse). */
const namesContainer = (data: string): boolean => data.includes('"code_interpreter_call"') || data.includes('"shell_call"');

function responsesStop(response: Record<string, unknown>): string {
  const reason = obj(response.incomplete_details)?.reason;
  if (typeof reason === 'string') return reason;
  return typeof response.status === 'string' ? response.status : '';
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Everything a JSON answer generated: message text (or content parts), refusals, reasoning text (DeepSeek's
 * `reasoning_content`, OpenRouter's `reasoning`), tool-call arguments; Responses output items likewise.
 */
function answerText(body: unknown, surface: ApiSurface): string {
  const b = obj(body);
  if (!b) return '';
  const out = outputParts();
  if (surface === 'responses') {
    for (const item of list(b.output)) {
      const o = obj(item);
      if (!o) continue;
      out.add(o.arguments);
      out.add(o.input);
      for (const part of [...list(o.content), ...list(o.summary)]) {
        const p = obj(part);
        out.add(p?.text);
        out.add(p?.refusal);
      }
    }
    return out.text();
  }
  for (const item of list(b.choices)) {
    const choice = obj(item);
    if (!choice) continue;
    out.add(choice.text);
    const message = obj(choice.message);
    if (!message) continue;
    if (Array.isArray(message.content)) for (const part of message.content) out.add(obj(part)?.text);
    else out.add(message.content);
    out.add(message.refusal);
    out.add(message.reasoning_content);
    out.add(message.reasoning);
    out.add(obj(message.function_call)?.arguments);
    for (const call of list(message.tool_calls)) out.add(obj(obj(call)?.function)?.arguments);
  }
  return out.text();
}

function firstFinishReason(body: Record<string, unknown>): string {
  const choices = body.choices;
  if (!Array.isArray(choices)) return '';
  const reason = obj(choices[0])?.finish_reason;
  return typeof reason === 'string' ? reason : '';
}

/** One chat/completions chunk read by parsing it: the same facts as the marker path, for any JSON layout. */
function parsedChunk(facts: StreamFacts, data: string, surface: ApiSurface, dropUsageChunk: boolean): boolean {
  const chunk = obj(parseJson(data));
  if (!chunk) return true;
  if (chunk.error !== undefined) { facts.errored = true; return true; }
  const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
  for (const item of choices) {
    const choice = obj(item);
    if (!choice) continue;
    const finish = choice.finish_reason;
    if (typeof finish === 'string' && finish) {
      if (!facts.stopReason || choice.index === 0) facts.stopReason = finish;
    }
    // The finishing chunk may carry the last output too (Gemini's last words, vLLM's last token, relays that mark
    // every chunk "stop"): it is counted like any other.
    if (surface === 'completions') {
      appendText(facts, stringOr(choice.text));
    } else {
      const delta = obj(choice.delta);
      appendText(facts, stringOr(delta?.content));
      appendText(facts, stringOr(delta?.reasoning_content));
      for (const call of list(delta?.tool_calls)) appendText(facts, stringOr(obj(obj(call)?.function)?.arguments));
    }
  }
  const usage = chunkUsage(chunk);
  if (usage) facts.usage = usage;
  return !(dropUsageChunk && usage && choices.length === 0);
}

/**
 * A chat chunk's usage: at its top level, or — Moonshot's Kimi streams — inside its (only) choice in the last
 * chunk, beside the finish reason.
 */
function chunkUsage(chunk: Record<string, unknown> | undefined): ReportedUsage | undefined {
  return openaiUsage(chunk?.usage) ?? openaiUsage(obj(list(chunk?.choices)[0])?.usage);
}

const FINISH_MARKER = '"finish_reason":"';
/** Where a chunk's generated output sits, other than `content`: tool-call arguments, then reasoning text. */
const ARGUMENTS_MARKER = '"arguments":"';
const REASONING_MARKER = '"reasoning_content":"';
/** Responses stream events whose `delta` is generated output. */
const RESPONSES_OUTPUT_DELTAS = new Set([
  'response.output_text.delta', 'response.function_call_arguments.delta', 'response.custom_tool_call_input.delta',
  'response.refusal.delta', 'response.reasoning_text.delta', 'response.reasoning_summary_text.delta',
]);
/** A chat chunk of the first choice, as OpenAI writes it; a bare `"index":0` would also match a tool call's index. */
const FIRST_CHOICE = '"choices":[{"index":0,';
/**
 * A legacy completions chunk of the first choice: OpenAI writes its `text` before its `index`, so the chat marker
 * never matches. A completion choice holds no other `index` (its logprobs have none), and a string's quotes are
 * escaped, so its text cannot look like this either.
 */
const FIRST_COMPLETION = /"index":0[,}]/;
const SEQUENCE_MARKER = '"sequence_number":';
const USAGE_MARKER = '"usage":{';
/** How the chunks before the usage chunk end when usage was asked for (the gateway asks by default). */
const NO_USAGE_YET = ',"usage":null}';
const USAGE_KEY = ['usage'];

/** The non-negative integer right after `marker` (spaces allowed before it); undefined when there is none. */
function integerAfter(text: string, marker: string): number | undefined {
  let at = text.indexOf(marker);
  if (at < 0) return undefined;
  at += marker.length;
  while (text.charCodeAt(at) === 32) at++;
  let value = -1;
  for (let c = text.charCodeAt(at); c >= 48 && c <= 57 && value < Number.MAX_SAFE_INTEGER / 10; c = text.charCodeAt(++at)) value = (value < 0 ? 0 : value * 10) + (c - 48);
  return value < 0 ? undefined : value;
}

export const openai: FormatCodec<string> = {
  errorBody: errorJson,

  // Chat and completions streams carry errors as an `{"error":…}` chunk; Responses streams as a typed `error`
  // event, which the SDKs (OpenAI's, Vercel's) validate by its `type` and `sequence_number`.
  streamErrorEvent(error, _requestId, surface, nextSequence = 0) {
    if (surface === 'responses') {
      return `event: error\ndata: ${JSON.stringify({ type: 'error', code: error.code, message: errorMessage(error), param: null, sequence_number: nextSequence })}\n\n`;
    }
    return `data: ${errorJson(error)}\n\n`;
  },

  factsFromJson(body, surface): AnswerFacts {
    const b = obj(body);
    if (!b) return { usage: undefined, stopReason: '' };
    if (surface === 'responses') {
      const usage = responsesUsage(b);
      // Without usage the attempt is estimated; the searches it shows are billed all the same (meter.ts).
      const searches = usage ? 0 : searchesIn(b);
      const facts: AnswerFacts = searches > 0 ? { usage, stopReason: responsesStop(b), webSearches: searches } : { usage, stopReason: responsesStop(b) };
      const containers = containersIn(b.output);
      if (containers.length > 0) facts.containers = containers;
      return facts;
    }
    return { usage: openaiUsage(b.usage), stopReason: firstFinishReason(b) };
  },

  answerText,

  // finish_reason: the first one is the first choice's (choices' content is all strings, so no look-alike key).
  factsFromText(text, surface) {
    if (surface === 'responses') return undefined;
    const usage = openaiUsage(objectAt(text, topLevelValueStarts(text, USAGE_KEY)[0]!));
    return usage ? { usage, stopReason: firstStringOf(text, 'finish_reason') } : undefined;
  },

  onStreamEvent(facts: StreamFacts, event, data, surface: ApiSurface, dropUsageChunk) {
    if (surface === 'responses') {
      // OpenAI names each event on an `event:` line; some compatible servers send only `data:`, whose JSON `type`
      // is the same name (the SDKs read that one). Parsed only for such servers.
      if (event === '') event = stringOr(obj(parseJson(data))?.type);
      // Every event is numbered, near its start: one search and its digits read in place, no parse, no substring.
      const sequence = integerAfter(data, SEQUENCE_MARKER);
      if (sequence !== undefined) facts.sequence = sequence;
      if (RESPONSES_OUTPUT_DELTAS.has(event)) {
        appendText(facts, spacedJson(data) ? stringOr(obj(parseJson(data))?.delta) : rawStringAfter(data, '"delta":"'));
        return true;
      }
      if (event === 'response.output_item.done') {
        if (data.includes('"web_search_call"')) {
          if (isBilledSearch(obj(obj(parseJson(data))?.item))) facts.webSearches = (facts.webSearches ?? 0) + 1;
        } else if (namesContainer(data)) {
          noteContainer(obj(obj(parseJson(data))?.item), facts.containers ??= []);
        }
        return true;
      }
      if (event === 'response.completed' || event === 'response.incomplete' || event === 'response.failed') {
        const response = obj(obj(parseJson(data))?.response);
        if (response) {
          facts.usage = responsesUsage(response) ?? facts.usage;
          facts.stopReason = responsesStop(response);
          if (namesContainer(data)) facts.containers = containersIn(response.output, facts.containers);
        }
        facts.terminal = true;
        if (event === 'response.failed') facts.errored = true;
      } else if (event === 'error') {
        facts.errored = true;
      }
      return true;
    }
    // chat.completion.chunk / text_completion chunks: no event names; cheap string checks decide whether
    // an event is worth parsing, so ordinary content chunks are never JSON-parsed.
    if (data === '[DONE]') { facts.terminal = true; return true; }
    if (spacedJson(data)) return parsedChunk(facts, data, surface, dropUsageChunk);
    const finish = lastRawStringAfter(data, FINISH_MARKER);
    // With n > 1 choices finish in any order: the stop reason is the first choice's (as for JSON answers), or
    // the first seen until choice 0's arrives. Several finishing in one chunk: only a parse tells which is whose.
    if (finish && data.indexOf(FINISH_MARKER) !== data.lastIndexOf(FINISH_MARKER)) return parsedChunk(facts, data, surface, dropUsageChunk);
    if (finish) { if (!facts.stopReason || (surface === 'completions' ? FIRST_COMPLETION.test(data) : data.includes(FIRST_CHOICE))) facts.stopReason = finish; }
    // A finishing chunk's output counts too (see parsedChunk).
    if (surface === 'completions') appendText(facts, lastRawStringAfter(data, '"text":"'));
    else {
      // Content chunks (the common case) are found by the first search; tool-call and reasoning chunks carry
      // `"content":null` or no content at all.
      const content = lastRawStringAfter(data, '"content":"');
      if (content) appendText(facts, content);
      else if (data.includes(ARGUMENTS_MARKER)) {
        // Parallel tool calls may each bring a piece in one chunk: only a parse finds them all.
        if (data.indexOf(ARGUMENTS_MARKER) !== data.lastIndexOf(ARGUMENTS_MARKER)) return parsedChunk(facts, data, surface, dropUsageChunk);
        appendText(facts, lastRawStringAfter(data, ARGUMENTS_MARKER));
      } else appendText(facts, lastRawStringAfter(data, REASONING_MARKER));
    }
    // The chunk's own usage is null, said last: no need to search it all for a usage object.
    if (!data.endsWith(NO_USAGE_YET) && data.lastIndexOf(USAGE_MARKER) >= 0) {
      const chunk = obj(parseJson(data));
      const usage = chunkUsage(chunk);
      if (usage) facts.usage = usage;
      // The usage-only chunk (`choices: []`) exists only because the gateway asked for it: hide it.
      if (dropUsageChunk && usage && Array.isArray(chunk?.choices) && chunk.choices.length === 0) return false;
    } else if (data.startsWith('{"error"')) {
      facts.errored = true;
    }
    return true;
  },
};
