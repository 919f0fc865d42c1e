// What a request must hold whichever model serves it: checked before any upstream call, so the client learns the
// same thing from every candidate — a translated request would otherwise go out as something else (a `messages`
// string as an empty conversation), and the same code work on one model and fail on another.
import type { ApiFormat, ApiSurface } from '../catalog/types.ts';
import { geminiContentsProblem, geminiMembers, geminiSpelling } from './gemini-fields.ts';
import { isRecord } from './json-value.ts';

/**
 * Why the request lacks what its API requires, if it does (said as the provider's own 400 would). `outputCap` is the
 * account's maxOutputTokens: when set, the gateway adds it as the limit a request leaves out (params.ts). `format`:
 * the client's, which tells Anthropic's token counting from Gemini's.
 */
export function requestShapeProblem(body: Record<string, unknown>, surface: ApiSurface, outputCap: number | null, format: ApiFormat): string | undefined {
  // The gateway relays and meters an answer as a stream only for `true`; a lenient server reads "true" or 1 as true
  // too, and its stream would then reach the client as one unmetered body (0 output tokens recorded).
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') return '"stream" must be true or false.';
  // Gemini's `:countTokens` counts `contents` (or a whole `generateContentRequest`), which Google checks itself.
  if (surface === 'chat-completions' || surface === 'messages' || (surface === 'count-tokens' && format === 'anthropic')) {
    if (!Array.isArray(body.messages)) return `"messages" must be an array of messages${body.messages === undefined ? ', and is required' : ''}.`;
  }
  // Bedrock's CountTokens: a union of the two requests it counts (Bedrock's own models would refuse anything else).
  if (surface === 'count-tokens' && format === 'bedrock') {
    const input = isRecord(body.input) ? body.input : {};
    if (isRecord(input.converse) === isRecord(input.invokeModel)) return '"input" must hold one of "converse" (a Converse request\'s messages, system and toolConfig) or "invokeModel" (an InvokeModel body).';
  }
  // Google refuses such `contents` itself; a chat model would be sent an empty prompt, and answer it.
  if (surface === 'generate-content' || surface === 'stream-generate-content') {
    const problem = geminiContentsProblem(body);
    if (problem) return problem;
  }
  // Anthropic requires the output limit on Messages (token counting refuses one), unless the account's cap supplies it.
  if (surface === 'messages' && (body.max_tokens === undefined || body.max_tokens === null) && !(outputCap !== null && outputCap > 0)) {
    return '"max_tokens" is required.';
  }
  return undefined;
}

/**
 * Whether the answer is streamed: `stream: true`, except where the API answers in one JSON body whatever it says;
 * Gemini's by its path alone (`:streamGenerateContent`), never by its body.
 */
export function streamsAnswer(body: Record<string, unknown> | undefined, surface: ApiSurface): boolean {
  // Gemini's and Bedrock's streaming are operations of their own, whatever the body says.
  if (surface === 'stream-generate-content' || surface === 'converse-stream' || surface === 'invoke-stream') return true;
  if (surface === 'converse' || surface === 'invoke') return false;
  return body?.stream === true && surface !== 'embeddings' && surface !== 'embed-content' && surface !== 'count-tokens' && surface !== 'generate-content';
}

/** What the refusals below tell a client that wants more of Interactions than ngrok serves. */
const STATELESS = 'ngrok\'s AI Gateway serves Gemini Interactions statelessly: every request goes to Google with "store": false, so no interaction is kept to continue, read or resume';

/**
 * Why a Gemini Interactions request asks for what ngrok's gateway does not serve, if it does (gateway.md §3): state
 * kept at Google (`store: true`, `previous_interaction_id`, `background: true`, whose answer is read later), and
 * agents with their environments, and webhooks. Said before any upstream call, on every key: BYOK too. Each member
 * under both of Google's names (gemini-fields.ts), named as the client spelled it: Interactions documents the
 * snake_case ones, and a camelCase one Google might read as GenerateContent's would otherwise pass.
 */
export function interactionsProblem(body: Record<string, unknown>): string | undefined {
  const isSet = (jsonName: string) => geminiMembers(body, jsonName).length > 0;
  const named = (jsonName: string) => geminiSpelling(body, jsonName);
  if (body.store === true) return `"store": true is not supported: ${STATELESS}. Omit "store" (or send false) and send the whole conversation in "input".`;
  if (isSet('previousInteractionId')) return `"${named('previousInteractionId')}" is not supported: ${STATELESS}. Send the whole conversation in "input".`;
  // Any value but false: a lenient parser reads "true" (a string) as true, as protobuf's JSON parsers do for a bool,
  // and a managed key would then pay for an answer no usage event counts.
  if (body.background !== undefined && body.background !== null && body.background !== false) {
    return `"background": ${JSON.stringify(body.background).slice(0, 40)} is not supported: ${STATELESS}, and a background interaction's answer is only read later. Omit "background".`;
  }
  for (const field of ['agent', 'agentConfig', 'environment']) {
    if (isSet(field)) return `"${named(field)}" is not supported: Gemini agents and their environments are not served through ngrok's AI Gateway. Name a model in "model".`;
  }
  if (isSet('webhookConfig')) return `"${named('webhookConfig')}" is not supported: ngrok's AI Gateway answers Gemini Interactions in the response (JSON, or server-sent events with "stream": true), never by webhook.`;
  return undefined;
}
