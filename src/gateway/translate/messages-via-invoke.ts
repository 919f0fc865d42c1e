// Anthropic Messages served by Claude on Amazon Bedrock through InvokeModel (ngrok's Bedrock page: `/v1/messages`
// reaches the Claude models "through InvokeModel, streaming included"). Bedrock's Claude body is Anthropic's request
// itself, as Anthropic's own Bedrock SDK sends it: the model goes in the path and streaming is its own operation
// (`/invoke-with-response-stream`), so `model` and `stream` leave the body; the API version is a body field
// (`anthropic_version: "bedrock-2023-05-31"`), and so are the betas (`anthropic_beta`, the `anthropic-beta` header's
// values). The answer is Anthropic's message as it is; a stream's `chunk` frames each carry one Anthropic event,
// written out as that SSE event (event-stream-meter.ts decodes them), and an exception frame becomes Anthropic's
// `error` event, which the Anthropic SDK raises.
import type { IncomingHttpHeaders } from 'node:http';
import type { StreamTranslation, Translator } from './types.ts';
import { anthropicProviderError } from './messages-via-chat.ts';
import { providerMessage } from './json.ts';

const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

/** `anthropic-beta`'s values: comma-separated, and repeated headers arrive joined with `, ` (node:http). */
function betas(header: IncomingHttpHeaders[string]): string[] {
  const text = Array.isArray(header) ? header.join(',') : header ?? '';
  return text.split(',').map((beta) => beta.trim()).filter((beta) => beta !== '');
}

/**
 * A Bedrock stream exception (its `:exception-type`) → the error type Anthropic gives the same failure in its
 * stream, so the SDKs and agents tell a retryable overload or rate limit from the request's own fault.
 */
export const STREAM_ERROR_TYPES: Readonly<Record<string, string>> = {
  throttlingException: 'rate_limit_error',
  serviceUnavailableException: 'overloaded_error',
  modelTimeoutException: 'timeout_error',
  validationException: 'invalid_request_error',
};

/** Whether a decoded frame's name is an exception's (AWS names them `…Exception`; Anthropic's events are snake_case). */
function isException(event: string): boolean {
  return event.endsWith('Exception');
}

/**
 * An event name SSE can carry as it is: Anthropic's are snake_case words. The name comes from the model's JSON, where
 * a line break is one escape away, and a line break in an SSE field ends it: what follows would be events of its own.
 */
const EVENT_NAME = /^[A-Za-z0-9_.-]+$/;

/** One `data:` line: the chunk's JSON re-serialized when Bedrock's had line breaks (whitespace, to JSON; an end, to SSE). */
function dataLine(data: string): string {
  return /[\r\n]/.test(data) ? JSON.stringify(JSON.parse(data)) : data;
}

class InvokeStream implements StreamTranslation {
  #out = '';

  event(event: string, data: string): void {
    if (!isException(event)) {
      if (EVENT_NAME.test(event)) this.#out += `event: ${event}\ndata: ${dataLine(data)}\n\n`;
      return;
    }
    const error = { type: STREAM_ERROR_TYPES[event] ?? 'api_error', message: providerMessage(data) };
    this.#out += `event: error\ndata: ${JSON.stringify({ type: 'error', error })}\n\n`;
  }

  take(): string {
    const text = this.#out;
    this.#out = '';
    return text;
  }

  // Claude's own `message_stop` ended the client's stream: nothing to close.
  finish(): string {
    return this.take();
  }
}

export const messagesViaInvoke: Translator = {
  request(body, _plan, headers) {
    const { model: _model, stream: _stream, models: _models, anthropic_version: _version, ...rest } = body;
    const out: Record<string, unknown> = { anthropic_version: BEDROCK_ANTHROPIC_VERSION, ...rest };
    const beta = betas(headers?.['anthropic-beta']);
    if (beta.length > 0 && out.anthropic_beta === undefined) out.anthropic_beta = beta;
    // The Messages body keeps its own output limit (`max_tokens`): the account's cap applies as on Anthropic.
    return { body: out, removed: [], limitSurface: 'messages' };
  },
  // Claude's message as Bedrock answers it: Anthropic's shape already (Bedrock's `id`, Anthropic's model name).
  answer: (upstream) => upstream,
  // Bedrock's `{"message": …}` refusals (ValidationException…) as Anthropic's errors, the status kept.
  error: anthropicProviderError,
  stream: () => new InvokeStream(),
};
