// Anthropic Messages wire format: `{"type":"error","error":{type,message}}` errors, usage from the message
// body, and SSE metering: `message_start` carries input (and cache) usage, `message_delta` the final
// output count (cumulative) and stop reason; each is read once.
import type { TollgateError } from '../../domain/errors.ts';
import { appendText, capped, errorMessage, num, objectAt, obj, outputParts, parseJson, rawStringAfter, spacedJson, stringAt, stringOr, topLevelValueStarts, type AnswerFacts, type FormatCodec, type ReportedUsage, type UsageIteration, type StreamFacts } from './types.ts';

/** An HTTP error status → the error type the Anthropic SDK maps to its classes. */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400: return 'invalid_request_error';
    case 401: return 'authentication_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 413: return 'request_too_large';
    case 429: return 'rate_limit_error';
    case 503: return 'overloaded_error';
    // Anthropic's own status for it (a provider behind a translation, or another gateway, may answer with it too).
    case 529: return 'overloaded_error';
    // Anthropic's own type for a request that ran out of time (the gateway's 3810, 27207).
    case 504: return 'timeout_error';
    default: return status < 500 ? 'invalid_request_error' : 'api_error';
  }
}

function errorJson(error: TollgateError, requestId: string): string {
  const code = error.spec.anthropicErrorCode;
  const details = code !== undefined ? { details: { error_code: code } } : {};
  return JSON.stringify({ type: 'error', error: { type: anthropicErrorType(error.status), code: error.code, message: errorMessage(error), ...details }, request_id: requestId });
}

function given(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/**
 * Anthropic `input_tokens` excludes cache reads and writes; ours counts every input token. An answer with
 * `usage.iterations` (compaction, the advisor tool) is billed the sum of its iterations, each at its model's rates:
 * its top-level counts leave out the compaction iterations, the advisor's, and the input of every executor
 * iteration after the first. Its counts are then those sums, and the iterations are kept for pricing (cost.ts).
 */
export function anthropicUsage(u: unknown, base?: ReportedUsage): ReportedUsage | undefined {
  const usage = obj(u);
  if (!usage) return base;
  const top = topLevelUsage(usage, base);
  // A message_delta without iterations keeps those counted before (they are cumulative, like its counts).
  const iterations = iterationsIn(usage.iterations) ?? base?.iterations;
  return iterations ? billedByIterations(top, iterations) : top;
}

/** Iterations whose usage runs on the request's model; any other type names the model it ran on. */
const EXECUTOR_ITERATIONS = new Set(['message', 'compaction']);

function iterationsIn(v: unknown): UsageIteration[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  const out: UsageIteration[] = [];
  for (const item of v) {
    const it = obj(item);
    if (!it) continue;
    const read = num(it.cache_read_input_tokens);
    const write = num(it.cache_creation_input_tokens);
    const iteration: UsageIteration = {
      inputTokens: capped(num(it.input_tokens) + read + write), outputTokens: num(it.output_tokens),
      cacheReadTokens: read, cacheWriteTokens: write, cacheWrite1hTokens: num(obj(it.cache_creation)?.ephemeral_1h_input_tokens),
    };
    if (!EXECUTOR_ITERATIONS.has(String(it.type)) && typeof it.model === 'string' && it.model !== '') iteration.model = it.model.slice(0, 256);
    out.push(iteration);
  }
  return out.length > 0 ? out : undefined;
}


/** `top` with its token counts the sums of `iterations` (its reasoning and searches are the top level's alone). */
function billedByIterations(top: ReportedUsage, iterations: readonly UsageIteration[]): ReportedUsage {
  const sum = { input: 0, output: 0, read: 0, write: 0, write1h: 0 };
  for (const it of iterations) {
    sum.input += it.inputTokens;
    sum.output += it.outputTokens;
    sum.read += it.cacheReadTokens;
    sum.write += it.cacheWriteTokens;
    sum.write1h += it.cacheWrite1hTokens;
  }
  const out: ReportedUsage = {
    ...top, inputTokens: capped(sum.input), outputTokens: capped(sum.output), cacheReadTokens: capped(sum.read), cacheWriteTokens: capped(sum.write), iterations,
  };
  if (sum.write1h > 0) out.cacheWrite1hTokens = capped(sum.write1h);
  else delete out.cacheWrite1hTokens;
  return out;
}

/** The top-level counts of one usage object, merged over `base` (message_start's) where it gives none. */
function topLevelUsage(usage: Record<string, unknown>, base: ReportedUsage | undefined): ReportedUsage {
  // A message_delta may restate a count or send null for it (the SDK's MessageDeltaUsage allows both): null
  // keeps message_start's count, as the SDK's own stream accumulator does.
  const read = given(usage.cache_read_input_tokens) ? num(usage.cache_read_input_tokens) : base?.cacheReadTokens ?? 0;
  const write = given(usage.cache_creation_input_tokens) ? num(usage.cache_creation_input_tokens) : base?.cacheWriteTokens ?? 0;
  const uncached = given(usage.input_tokens) ? num(usage.input_tokens) : base ? base.inputTokens - base.cacheReadTokens - base.cacheWriteTokens : 0;
  // Thinking is billed inside output_tokens; thinking_tokens says how much of it was thinking.
  const details = obj(usage.output_tokens_details);
  const out: ReportedUsage = {
    // Three counts each capped: their sum is capped too, as one count of input (formats/types.ts `num`).
    inputTokens: capped(uncached + read + write),
    outputTokens: given(usage.output_tokens) ? num(usage.output_tokens) : base?.outputTokens ?? 0,
    cacheReadTokens: read,
    cacheWriteTokens: write,
    reasoningTokens: details && given(details.thinking_tokens) ? num(details.thinking_tokens) : base?.reasoningTokens ?? 0,
  };
  // Priced apart (cost.ts): hour-long cache writes (2 × input, not 1.25 ×) and web searches ($10 per 1,000).
  const creation = obj(usage.cache_creation);
  const longWrite = creation ? num(creation.ephemeral_1h_input_tokens) : base?.cacheWrite1hTokens ?? 0;
  if (longWrite > 0) out.cacheWrite1hTokens = longWrite;
  const tools = obj(usage.server_tool_use);
  const searches = tools ? num(tools.web_search_requests) : base?.webSearchRequests ?? 0;
  if (searches > 0) out.webSearchRequests = searches;
  return out;
}

const ANSWER_KEYS = ['usage', 'stop_reason'];

/** A message's generated content: text, thinking, and tool inputs (as the JSON the model wrote). */
function answerText(body: unknown): string {
  const content = obj(body)?.content;
  if (!Array.isArray(content)) return '';
  const out = outputParts();
  for (const item of content) {
    const block = obj(item);
    if (!block) continue;
    out.add(block.text);
    out.add(block.thinking);
    if (block.type === 'tool_use' || block.type === 'server_tool_use') out.add(block.input);
  }
  return out.text();
}

/** A content_block_delta's output: `text_delta`, `input_json_delta` (tool input) or `thinking_delta`. */
function deltaText(data: string): string {
  if (spacedJson(data)) {
    const delta = obj(obj(parseJson(data))?.delta);
    return stringOr(delta?.text) || stringOr(delta?.partial_json) || stringOr(delta?.thinking);
  }
  return rawStringAfter(data, '"text":"') || rawStringAfter(data, '"partial_json":"') || rawStringAfter(data, '"thinking":"');
}

export const anthropic: FormatCodec<string> = {
  errorBody: errorJson,

  streamErrorEvent(error, requestId) {
    return `event: error\ndata: ${errorJson(error, requestId)}\n\n`;
  },

  factsFromJson(body): AnswerFacts {
    const b = obj(body);
    if (!b) return { usage: undefined, stopReason: '' };
    return { usage: anthropicUsage(b.usage), stopReason: typeof b.stop_reason === 'string' ? b.stop_reason : '' };
  },

  answerText,

  factsFromText(text) {
    const [usageAt, stopAt] = topLevelValueStarts(text, ANSWER_KEYS) as [number, number];
    const usage = anthropicUsage(objectAt(text, usageAt));
    return usage ? { usage, stopReason: stringAt(text, stopAt) } : undefined;
  },

  onStreamEvent(facts: StreamFacts, event, data) {
    switch (event) {
      case 'content_block_delta':
        appendText(facts, deltaText(data));
        return true;
      case 'message_start': {
        const message = obj(obj(parseJson(data))?.message);
        facts.usage = anthropicUsage(message?.usage);
        return true;
      }
      case 'message_delta': {
        const delta = obj(parseJson(data));
        // message_delta usage is cumulative and may restate input counts: merge over message_start's.
        if (delta?.usage !== undefined) facts.usage = anthropicUsage(delta.usage, facts.usage);
        const stop = obj(delta?.delta)?.stop_reason;
        if (typeof stop === 'string') facts.stopReason = stop;
        return true;
      }
      case 'content_block_start':
        // A search the web search tool runs (billed per search) opens its own block.
        if (data.includes('"server_tool_use"')) {
          const block = obj(obj(parseJson(data))?.content_block);
          if (block?.type === 'server_tool_use' && block.name === 'web_search') facts.webSearches = (facts.webSearches ?? 0) + 1;
        }
        return true;
      case 'message_stop':
        facts.terminal = true;
        return true;
      case 'error':
        facts.errored = true;
        return true;
      default:
        return true;
    }
  },
};
