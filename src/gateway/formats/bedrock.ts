// Amazon Bedrock Runtime's wire format, as the AWS SDK speaks it (restJson1 with AWS event streams). Errors: a JSON
// `{"message": …}` whose exception the `x-amzn-errortype` header names (ValidationException, ThrottlingException…),
// which the SDK raises as that class. Usage: Converse's `usage` (inputTokens without the cache's, which come apart);
// InvokeModel's is the model's own body, and Bedrock's count in the X-Amzn-Bedrock-*-Token-Count headers. Streams are
// binary event-stream frames (`application/vnd.amazon.eventstream`), metered by event-stream-meter.ts: ConverseStream's
// `metadata` event carries the usage, InvokeModelWithResponseStream's last `chunk` the `amazon-bedrock-invocationMetrics`.
import type { IncomingHttpHeaders } from 'node:http';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import type { TollgateError } from '../../domain/errors.ts';
import { anthropic } from './anthropic.ts';
import { capped, errorMessage, num, obj, outputParts, stringOr, type AnswerFacts, type FormatCodec, type ReportedUsage } from './types.ts';

/** Event-stream frames: their prelude, headers and CRCs (UTF-8 both ways, as the SDK's own codec is set up). */
export const eventStreamCodec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
  (text) => Buffer.from(text, 'utf8'),
);

/**
 * An HTTP status → the Bedrock Runtime exception the SDK raises for it (its `x-amzn-errortype`): the class a client
 * catches (ThrottlingException, which the SDK retries; AccessDeniedException for a key refused here).
 */
export function bedrockErrorType(status: number): string {
  switch (status) {
    case 401:
    case 403: return 'AccessDeniedException';
    case 404: return 'ResourceNotFoundException';
    case 408:
    case 504: return 'ModelTimeoutException';
    case 429: return 'ThrottlingException';
    case 503: return 'ServiceUnavailableException';
    default: return status < 500 ? 'ValidationException' : 'InternalServerException';
  }
}

/** The gateway's error as Bedrock writes one: the ngrok code leads the message, as on every surface. */
function errorJson(error: TollgateError, requestId: string): string {
  return JSON.stringify({ message: errorMessage(error), code: error.code, requestId });
}

/**
 * Converse's TokenUsage: `inputTokens` leaves out the tokens read from or written to the prompt cache, which ours
 * count (types.ts ReportedUsage), as Anthropic's `input_tokens` does.
 */
export function converseUsage(u: unknown): ReportedUsage | undefined {
  const usage = obj(u);
  // Both counts are Bedrock's always: a report short of one is not taken as a zero (the request is estimated instead).
  if (!usage || !isCount(usage.inputTokens) || !isCount(usage.outputTokens)) return undefined;
  const cacheRead = num(usage.cacheReadInputTokens);
  const cacheWrite = num(usage.cacheWriteInputTokens);
  const out: ReportedUsage = { inputTokens: capped(num(usage.inputTokens) + cacheRead + cacheWrite), outputTokens: num(usage.outputTokens), cacheReadTokens: cacheRead, cacheWriteTokens: cacheWrite, reasoningTokens: 0 };
  // `cacheDetails`: the writes by TTL; an hour's are priced apart (2 × input where five minutes' are 1.25 ×).
  let longWrite = 0;
  if (Array.isArray(usage.cacheDetails)) for (const detail of usage.cacheDetails) if (obj(detail)?.ttl === '1h') longWrite += num(obj(detail)?.inputTokens);
  return withLongWrites(out, longWrite);
}

/**
 * `bedrock`'s counts with the hour-long cache writes `longWrite` (at most its writes): InvokeModel's counts (headers,
 * invocation metrics) do not split writes by TTL, Claude's own usage (`cache_creation`) does.
 */
export function withLongWrites(bedrock: ReportedUsage, longWrite: number | undefined): ReportedUsage {
  const long = Math.min(longWrite ?? 0, bedrock.cacheWriteTokens);
  if (long > 0) bedrock.cacheWrite1hTokens = long;
  return bedrock;
}

/**
 * InvokeModel's usage as Bedrock counted it (what it bills), whatever the model's body: `X-Amzn-Bedrock-Input-Token-Count`
 * and `-Output-Token-Count`, the cache's apart as on Converse. Undefined unless Bedrock sent both (the body's usage then).
 */
export function invokeHeaderUsage(headers: IncomingHttpHeaders): ReportedUsage | undefined {
  const count = (name: string): number | undefined => {
    const value = headers[`x-amzn-bedrock-${name}-token-count`];
    return typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
  };
  return converseUsage({ inputTokens: count('input'), outputTokens: count('output'), cacheReadInputTokens: count('cache-read-input'), cacheWriteInputTokens: count('cache-write-input') });
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** `amazon-bedrock-invocationMetrics`, on an InvokeModel stream's last chunk: Bedrock's counts of the whole answer. */
export function invocationMetricsUsage(m: unknown): ReportedUsage | undefined {
  const metrics = obj(m);
  if (!metrics) return undefined;
  return converseUsage({ inputTokens: metrics.inputTokenCount, outputTokens: metrics.outputTokenCount, cacheReadInputTokens: metrics.cacheReadInputTokenCount, cacheWriteInputTokens: metrics.cacheWriteInputTokenCount });
}

/** Converse's output message: its text, reasoning and tool inputs, to estimate output tokens. */
function converseText(body: unknown): string {
  const content = obj(obj(obj(body)?.output)?.message)?.content;
  if (!Array.isArray(content)) return '';
  const out = outputParts();
  for (const item of content) {
    const block = obj(item);
    out.add(block?.text);
    out.add(obj(block?.toolUse)?.input);
    out.add(obj(obj(block?.reasoningContent)?.reasoningText)?.text);
  }
  return out.text();
}

/** An event-stream event frame of `type` (ConverseStream's `contentBlockDelta`, InvokeModel's `chunk`…) carrying `body` as JSON. */
export function eventFrame(type: string, body: unknown): Buffer {
  return Buffer.from(eventStreamCodec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'event' },
      ':event-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: Buffer.from(JSON.stringify(body)),
  }));
}

/** The event-stream frame an AWS SDK raises as `type` (an exception of the operation's stream), with `message`. */
export function exceptionFrame(type: string, message: string): Uint8Array {
  return eventStreamCodec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'exception' },
      ':exception-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: Buffer.from(JSON.stringify({ message })),
  });
}

export const bedrock: FormatCodec<Uint8Array> = {
  errorBody: errorJson,

  // Both streams' unions have modelStreamErrorException ("an error while streaming"), which the SDK raises by name.
  streamErrorEvent: (error) => exceptionFrame('modelStreamErrorException', errorMessage(error)),

  errorHeaders: (error, requestId) => ({ 'x-amzn-errortype': bedrockErrorType(error.status), 'x-amzn-requestid': requestId }),

  factsFromJson(body, surface): AnswerFacts {
    if (surface === 'converse') return { usage: converseUsage(obj(body)?.usage), stopReason: stringOr(obj(body)?.stopReason) };
    // InvokeModel: the model's own body; Claude's is Anthropic's Messages answer (the headers' counts replace its usage).
    return anthropic.factsFromJson(body, 'messages');
  },

  answerText: (body, surface) => (surface === 'converse' ? converseText(body) : anthropic.answerText(body, 'messages')),

  // Bedrock's answers are parsed whole (Converse's are one message; InvokeModel's usage is in its headers).
  factsFromText: () => undefined,

  // Bedrock streams are binary frames, metered by event-stream-meter.ts, never as SSE.
  onStreamEvent: () => true,
};
