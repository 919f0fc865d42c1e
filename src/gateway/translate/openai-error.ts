// A provider's refusal, in whatever shape it came (OpenAI's `{error: {…}}`, Anthropic's `{type: error, error: {…}}`,
// or plain text), as the OpenAI SDKs parse it: the status is kept, so the SDK raises the class it knows for it.
import { obj, parseJson } from '../formats/types.ts';
import { providerMessage } from './json.ts';

const ERROR_TYPES: Readonly<Record<number, string>> = { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 409: 'conflict_error', 422: 'invalid_request_error', 429: 'rate_limit_error' };

export function openaiError(status: number, upstream: string): string {
  const given = obj(obj(parseJson(upstream))?.error);
  return JSON.stringify({ error: {
    message: providerMessage(upstream),
    type: typeof given?.type === 'string' ? given.type : ERROR_TYPES[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
    param: given?.param ?? null, code: given?.code ?? null,
  } });
}
