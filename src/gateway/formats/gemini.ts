// Gemini's native wire format (GenerateContent, as Google's Gen AI SDK speaks it): errors are a google.rpc.Status
// (`{"error":{code,message,status,details}}`), usage is `usageMetadata`, and a stream (`alt=sse`) is `data:` chunks,
// each a whole GenerateContentResponse whose usageMetadata is cumulative — the last one carrying it counts. A stream
// has no final event: a candidate's `finishReason` says it finished, the end of the body ends it. Google writes its
// JSON with spaces after colons, so every read here is whitespace-tolerant (topLevelValueStarts, firstStringOf).
// Gemini Interactions (surface `interactions`) share the errors but answer an Interaction (`status`, `steps`,
// `usage` of Google's `total_*` counts) or named SSE events (`step.delta`, `interaction.completed`, …, `[DONE]`).
import type { TollgateError } from '../../domain/errors.ts';
import { appendText, capped, errorMessage, firstStringOf, num, objectAt, obj, outputParts, parseJson, stringAt, stringOr, topLevelValueStarts, type AnswerFacts, type FormatCodec, type ReportedUsage, type StreamFacts } from './types.ts';

/** An HTTP status → the google.rpc.Code name Google's errors carry (its own HTTP mapping, the nearest for the rest). */
export function googleStatus(status: number): string {
  switch (status) {
    case 400: return 'INVALID_ARGUMENT';
    case 401: return 'UNAUTHENTICATED';
    case 403: return 'PERMISSION_DENIED';
    case 404: return 'NOT_FOUND';
    case 409: return 'ABORTED';
    case 429: return 'RESOURCE_EXHAUSTED';
    case 499: return 'CANCELLED';
    case 501: return 'UNIMPLEMENTED';
    case 502:
    case 503: return 'UNAVAILABLE';
    case 504: return 'DEADLINE_EXCEEDED';
    default: return status < 500 ? 'FAILED_PRECONDITION' : 'INTERNAL';
  }
}

/**
 * Google's ErrorInfo reasons for a key that is not a usable key (mistyped, deleted, revoked, expired). Google answers
 * them with 400 INVALID_ARGUMENT ("API key not valid. Please pass a valid API key."), not 401 or 403.
 */
const KEY_REJECTED = new Set(['API_KEY_INVALID', 'API_KEY_EXPIRED']);

/** Past this size an error body is no key rejection (Google's is under 1 KB). */
const KEY_ERROR_BYTES = 64 * 1024;

/**
 * Whether a provider's error body is Google refusing the key itself: its google.rpc.Status with an ErrorInfo reason
 * of KEY_REJECTED, as the native API sends it (`{"error": …}`) or as its OpenAI-compatible API does (the same in a
 * list, `[{"error": …}]`), or that reason as an OpenAI-style `code`. Read from the reason, never the message.
 */
export function rejectsGoogleKey(body: Buffer): boolean {
  if (body.length > KEY_ERROR_BYTES) return false;
  const parsed = parseJson(body.toString('utf8'));
  const error = obj(obj(Array.isArray(parsed) ? parsed[0] : parsed)?.error);
  if (!error) return false;
  if (typeof error.code === 'string' && KEY_REJECTED.has(error.code)) return true;
  const details = Array.isArray(error.details) ? error.details : [];
  return details.some((detail) => {
    const reason = obj(detail)?.reason;
    return typeof reason === 'string' && KEY_REJECTED.has(reason);
  });
}

/**
 * The gateway's error as Google writes one. The ngrok code leads the message (as on every surface) and is the
 * `reason` of a google.rpc.ErrorInfo detail — where Google's own errors put their machine-readable cause — with the
 * request id in its metadata.
 */
function errorJson(error: TollgateError, requestId: string): string {
  return JSON.stringify({
    error: {
      code: error.status, message: errorMessage(error), status: googleStatus(error.status),
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: error.code, domain: 'ngrok.ai', metadata: { request_id: requestId } }],
    },
  });
}


/**
 * `promptTokenCount` counts every prompt token, cached ones (`cachedContentTokenCount`) included; the prompts of
 * the tools Google ran (`toolUsePromptTokenCount`) are input too. Thinking (`thoughtsTokenCount`) is billed as output
 * beside `candidatesTokenCount`, which leaves it out.
 */
export function geminiUsage(u: unknown): ReportedUsage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  const prompt = num(usage.promptTokenCount);
  const thoughts = num(usage.thoughtsTokenCount);
  return {
    inputTokens: capped(prompt + num(usage.toolUsePromptTokenCount)),
    outputTokens: capped(num(usage.candidatesTokenCount) + thoughts),
    cacheReadTokens: Math.min(num(usage.cachedContentTokenCount), prompt),
    cacheWriteTokens: 0,
    reasoningTokens: thoughts,
  };
}

/** The candidates' generated output: text (thoughts included) and function calls' arguments. */
function answerText(body: unknown): string {
  const candidates = obj(body)?.candidates;
  if (!Array.isArray(candidates)) return '';
  const out = outputParts();
  for (const candidate of candidates) {
    const parts = obj(obj(candidate)?.content)?.parts;
    if (!Array.isArray(parts)) continue;
    for (const item of parts) {
      const part = obj(item);
      if (!part) continue;
      out.add(part.text);
      out.add(obj(part.functionCall)?.args);
    }
  }
  return out.text();
}

/** The first candidate's finish reason (`STOP`, `MAX_TOKENS`, `SAFETY`…); '' while it generates. */
function finishReasonOf(body: unknown): string {
  const candidates = obj(body)?.candidates;
  return stringOr(Array.isArray(candidates) ? obj(candidates[0])?.finishReason : undefined);
}

const USAGE_KEY = ['usageMetadata'];
const STREAM_KEYS = ['usageMetadata', 'error'];

/**
 * Gemini Interactions' `usage` (Google's Usage: `total_input_tokens`, …), read as GenerateContent's usageMetadata:
 * input = the prompt (cached tokens included) + the tool-use prompts, output = the generated tokens + thoughts.
 */
export function interactionsUsage(u: unknown): ReportedUsage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  return geminiUsage({
    promptTokenCount: usage.total_input_tokens, toolUsePromptTokenCount: usage.total_tool_use_tokens, cachedContentTokenCount: usage.total_cached_tokens,
    candidatesTokenCount: usage.total_output_tokens, thoughtsTokenCount: usage.total_thought_tokens,
  });
}

/** An interaction's output: its steps' text (model output, thought summaries) and function calls' arguments. */
function interactionText(body: unknown): string {
  const steps = obj(body)?.steps;
  if (!Array.isArray(steps)) return '';
  const out = outputParts();
  for (const item of steps) {
    const step = obj(item);
    if (!step || step.type === 'user_input' || step.type === 'function_result') continue;
    for (const part of [...(Array.isArray(step.content) ? step.content : []), ...(Array.isArray(step.summary) ? step.summary : [])]) out.add(obj(part)?.text);
    out.add(step.arguments);
  }
  return out.text();
}

/** Interaction statuses that are not an end (every other one is: completed, failed, incomplete, requires_action…). */
const UNDERWAY = new Set(['', 'in_progress', 'queued']);
const INTERACTION_KEYS = ['usage', 'status'];

/**
 * One Interactions SSE event (`event: step.delta` / `data: {"event_type": "step.delta", …}`). Output for an estimate
 * from text deltas; usage (cumulative) from `interaction.completed`'s interaction, a `step.stop` or a status update;
 * the end from the interaction's status (the stop reason) and `data: [DONE]`, the SDK's sentinel; an `error` event
 * is the provider's failure.
 */
function onInteractionEvent(facts: StreamFacts, event: string, data: string): void {
  if (data === '[DONE]') {
    facts.terminal = true;
    return;
  }
  if (event === 'error' || topLevelValueStarts(data, ['error'])[0]! >= 0) {
    facts.errored = true;
    return;
  }
  const delta = event === 'step.delta' || data.includes('"step.delta"');
  if (!delta && !data.includes('"usage"') && !data.includes('"status"')) return;
  // Parsed whole: a delta is a few words, and its `"type": "text"` comes before its `"text"` key.
  const parsed = obj(parseJson(data));
  if (delta) {
    const piece = obj(parsed?.delta);
    if (piece?.type === 'text' || piece?.type === 'thought_summary') appendText(facts, stringOr(piece.text ?? obj(piece.content)?.text));
  }
  const interaction = obj(parsed?.interaction);
  const usage = interactionsUsage(interaction?.usage ?? parsed?.usage ?? obj(parsed?.metadata)?.total_usage);
  if (usage) facts.usage = usage;
  const status = stringOr(interaction?.status ?? parsed?.status);
  if (!UNDERWAY.has(status)) facts.stopReason = status;
}

export const gemini: FormatCodec<string> = {
  errorBody: errorJson,

  // The Gen AI SDK raises an ApiError with the code of a `data:` chunk holding an error, as Google sends one mid-stream.
  // An Interactions stream ends with its own `error` event instead, which the SDK yields to the client's loop.
  streamErrorEvent(error, requestId, surface) {
    if (surface === 'interactions') {
      const data = { event_type: 'error', error: { code: error.code, message: errorMessage(error) }, metadata: { request_id: requestId } };
      return `event: error\ndata: ${JSON.stringify(data)}\n\n`;
    }
    return `data: ${errorJson(error, requestId)}\n\n`;
  },

  factsFromJson(body, surface): AnswerFacts {
    if (surface === 'interactions') return { usage: interactionsUsage(obj(body)?.usage), stopReason: stringOr(obj(body)?.status) };
    return { usage: geminiUsage(obj(body)?.usageMetadata), stopReason: finishReasonOf(body) };
  },

  answerText: (body, surface) => (surface === 'interactions' ? interactionText(body) : answerText(body)),

  factsFromText(text, surface) {
    if (surface === 'interactions') {
      const [usageAt, statusAt] = topLevelValueStarts(text, INTERACTION_KEYS) as [number, number];
      const usage = interactionsUsage(objectAt(text, usageAt));
      return usage ? { usage, stopReason: stringAt(text, statusAt) } : undefined;
    }
    const usage = geminiUsage(objectAt(text, topLevelValueStarts(text, USAGE_KEY)[0]!));
    return usage ? { usage, stopReason: firstStringOf(text, 'finishReason') } : undefined;
  },

  onStreamEvent(facts: StreamFacts, event, data, surface) {
    if (surface === 'interactions') {
      onInteractionEvent(facts, event, data);
      return true;
    }
    const [usageAt, errorAt] = topLevelValueStarts(data, STREAM_KEYS) as [number, number];
    // Google's error chunk: a stream whose client saw it ended as the provider's failure.
    if (errorAt >= 0) {
      facts.errored = true;
      return true;
    }
    // Output only for an estimate: the first part's text of the chunk (usage, when it comes, is what is billed).
    appendText(facts, firstStringOf(data, 'text'));
    if (data.includes('"finishReason"')) facts.stopReason = firstStringOf(data, 'finishReason');
    if (usageAt >= 0) facts.usage = geminiUsage(objectAt(data, usageAt)) ?? facts.usage;
    return true;
  },
};
