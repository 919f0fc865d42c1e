// The top-level request fields each API surface documents (OpenAI's Chat Completions and Responses references,
// Anthropic's Messages reference, as of 2026-11), for the model list's `supported_api_formats[].parameters`: a
// built-in surface forwards any field, so what a model takes is its surface's fields less the ones the catalog
// knows it refuses (CatalogModel.unsupportedParams).
import type { DeclaredSurface } from './types.ts';

export type ListedSurface = Extract<DeclaredSurface, 'chat-completions' | 'responses' | 'messages'>;

export const SURFACE_PARAMS: Readonly<Record<ListedSurface, readonly string[]>> = {
  'chat-completions': [
    'model', 'messages', 'audio', 'frequency_penalty', 'logit_bias', 'logprobs', 'max_completion_tokens', 'max_tokens',
    'metadata', 'modalities', 'n', 'parallel_tool_calls', 'prediction', 'presence_penalty', 'prompt_cache_key',
    'prompt_cache_retention', 'reasoning_effort', 'response_format', 'safety_identifier', 'seed', 'service_tier', 'stop',
    'store', 'stream', 'stream_options', 'temperature', 'tool_choice', 'tools', 'top_logprobs', 'top_p', 'user',
    'verbosity', 'web_search_options',
  ],
  responses: [
    'model', 'input', 'background', 'conversation', 'include', 'instructions', 'max_output_tokens', 'max_tool_calls',
    'metadata', 'parallel_tool_calls', 'previous_response_id', 'prompt', 'prompt_cache_key', 'prompt_cache_retention',
    'reasoning', 'safety_identifier', 'service_tier', 'store', 'stream', 'stream_options', 'temperature', 'text',
    'tool_choice', 'tools', 'top_logprobs', 'top_p', 'truncation', 'user',
  ],
  messages: [
    'model', 'messages', 'max_tokens', 'container', 'context_management', 'mcp_servers', 'metadata', 'service_tier',
    'stop_sequences', 'stream', 'system', 'temperature', 'thinking', 'tool_choice', 'tools', 'top_k', 'top_p',
  ],
};

/** Where a client calls each surface on the gateway. */
export const GATEWAY_PATHS: Readonly<Record<ListedSurface, string>> = {
  'chat-completions': '/v1/chat/completions',
  responses: '/v1/responses',
  messages: '/v1/messages',
};

export function isListedSurface(surface: string): surface is ListedSurface {
  return Object.hasOwn(SURFACE_PARAMS, surface);
}
